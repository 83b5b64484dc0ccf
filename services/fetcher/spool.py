"""A downloaded body kept on disk while it is read, with what the parsers must know of it whole.

Holding a feed in memory costs its size, and parsing it whole about six times that: a 345 MB
job-board feed took the fetcher to 2 GB. The body is written here as it is decoded (a small
one stays in memory, a large one rolls over to a temporary file), so the streaming readers
(:mod:`.streaming`) parse it from the file a bounded piece at a time. A few facts the fast
path's exactness rules need about the whole document (is it ASCII, how often ``xmlns``
appears, does it declare entities) are counted on the way in, so nothing reads it twice.
"""

from __future__ import annotations

import pickle
import re
import tempfile
from collections.abc import Iterator
from typing import IO, Any

#: Bodies up to this size stay in memory; larger ones go to a temporary file.
IN_MEMORY = 1024 * 1024
#: A JSON escape of a UTF-16 surrogate (U+D800-U+DFFF).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
#: The first bytes, kept for format detection and the XML declaration.
HEAD = 4096


class _Counter:
    """Occurrences of one byte string across pieces (a match may straddle two)."""

    def __init__(self, needle: bytes) -> None:
        self.needle = needle
        self.count = 0
        self._tail = b""

    def feed(self, piece: bytes) -> None:
        joined = self._tail + piece
        self.count += joined.count(self.needle)
        self._tail = joined[-(len(self.needle) - 1) :]


class _Found:
    """Whether a pattern of ``length`` bytes occurs across pieces (a match may straddle two)."""

    def __init__(self, pattern: re.Pattern[bytes], length: int) -> None:
        self.pattern = pattern
        self.length = length
        self.found = False
        self._tail = b""

    def feed(self, piece: bytes) -> None:
        if not self.found:
            joined = self._tail + piece
            self.found = self.pattern.search(joined) is not None
            self._tail = joined[-(self.length - 1) :]


class Spool:
    """A body written a piece at a time, read back from the start as often as needed."""

    def __init__(self) -> None:
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY)  # noqa: SIM115
        self.size = 0
        self.head = b""
        self.ascii = True
        self._xmlns = _Counter(b"xmlns")
        self._entity = _Counter(b"<!ENTITY")
        self._surrogate = _Found(_SURROGATE_ESCAPE, 6)

    def write(self, piece: bytes) -> None:
        self.file.write(piece)
        self.size += len(piece)
        if len(self.head) < HEAD:
            self.head += piece[: HEAD - len(self.head)]
        if self.ascii and not piece.isascii():
            self.ascii = False
        self._xmlns.feed(piece)
        self._entity.feed(piece)
        self._surrogate.feed(piece)

    @property
    def xmlns(self) -> int:
        """How often the word ``xmlns`` appears in the body."""
        return self._xmlns.count

    @property
    def declares_entities(self) -> bool:
        return self._entity.count > 0

    @property
    def escapes_surrogates(self) -> bool:
        """Whether the body has a JSON escape of a UTF-16 surrogate, ``\\uD800``-``\\uDFFF`` (or
        text that looks like one): yajl reads a lone one as "?", Python's json as itself."""
        return self._surrogate.found

    def reader(self) -> IO[bytes]:
        """The body from its first byte."""
        self.file.seek(0)
        return self.file

    def read_all(self) -> bytes:
        return self.reader().read()

    def close(self) -> None:
        self.file.close()


class ItemSpool:
    """Items kept on disk until they are sent (pickled one after another), read back as often as
    needed: a streamed document's items wait here until it has been read to its end."""

    def __init__(self) -> None:
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY)  # noqa: SIM115
        self.count = 0

    def add(self, item: object) -> None:
        pickle.dump(item, self.file, protocol=pickle.HIGHEST_PROTOCOL)
        self.count += 1

    def __iter__(self) -> Iterator[Any]:
        self.file.seek(0)
        for _ in range(self.count):
            yield pickle.load(self.file)  # our own file, written just before

    def close(self) -> None:
        self.file.close()
