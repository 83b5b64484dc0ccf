"""Undoing a response's Content-Encoding ourselves, a bounded piece at a time.

httpx decompresses each part it receives in one call, with no limit on what that call returns:
with ``Content-Encoding: gzip, gzip`` the outer layer turns 1.9 KB into a megabyte, and the inner
layer turns that megabyte into one 1 GB part before the size cap ever sees it. Here each layer
asks zlib for at most :data:`PIECE` bytes at a time (``max_length``) and hands them on as they
come, so the caller counts decompressed bytes against the cap and stops at it having held no
more than a few pieces.

Only the codings we announce in ``Accept-Encoding`` are decoded (gzip, deflate); any other, or
more layers than :data:`MAX_CODINGS`, is a clear error.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Iterable, Iterator

#: The most bytes one layer hands on at once.
PIECE = 64 * 1024
#: Layers of coding we undo; more is no real server's doing.
MAX_CODINGS = 3
ACCEPT_ENCODING = "gzip, deflate"

_GZIP = 16 + zlib.MAX_WBITS
_ZLIB = zlib.MAX_WBITS
_RAW_DEFLATE = -zlib.MAX_WBITS


class Undecodable(ValueError):
    """The body cannot be decoded as its Content-Encoding says (or that coding is not supported)."""


def decoded(parts: Iterable[bytes], content_encoding: str | None) -> Iterator[bytes]:
    """The body's bytes with every coding of ``content_encoding`` undone, in pieces of at most
    :data:`PIECE` bytes (``parts`` are the raw bytes as received)."""
    codings = [coding.strip().lower() for coding in (content_encoding or "").split(",")]
    codings = [coding for coding in codings if coding and coding != "identity"]
    if len(codings) > MAX_CODINGS:
        raise Undecodable(f"{len(codings)} layers of Content-Encoding; at most {MAX_CODINGS} are undone")
    stream: Iterator[bytes] = iter(parts)
    for coding in reversed(codings):  # the last coding listed was applied last
        if coding in ("gzip", "x-gzip"):
            stream = _inflate(stream, _GZIP)
        elif coding == "deflate":
            stream = _inflate(stream, _ZLIB, fallback=_RAW_DEFLATE)
        else:
            raise Undecodable(f"unsupported Content-Encoding {coding!r}")
    return stream


def _inflate(parts: Iterator[bytes], wbits: int, fallback: int | None = None) -> Iterator[bytes]:
    """One layer. ``fallback``: the framing to use when the data does not start with a zlib
    header (servers send "deflate" both zlib-wrapped, as specified, and raw)."""
    if fallback is not None:
        parts, wrapped = _zlib_wrapped(parts)
        wbits = wbits if wrapped else fallback
    decompressor = zlib.decompressobj(wbits)
    try:
        for data in parts:
            while data and not decompressor.eof:
                piece = decompressor.decompress(data, PIECE)
                data = decompressor.unconsumed_tail
                if piece:
                    yield piece
                # A full piece may leave output inside zlib with no input left: ask again.
                while len(piece) == PIECE and not data and not decompressor.eof:
                    piece = decompressor.decompress(b"", PIECE)
                    if piece:
                        yield piece
            if decompressor.eof:
                break  # what follows the end of the stream is ignored, as httpx does: stop reading it
        if not decompressor.eof:
            rest = decompressor.flush()
            if rest:
                yield rest
    except zlib.error as exc:
        raise Undecodable(str(exc)) from None


def _zlib_wrapped(parts: Iterator[bytes]) -> tuple[Iterator[bytes], bool]:
    """Whether the stream starts with a zlib header (RFC 1950: method 8, a check that divides by
    31), and the stream again, its first bytes included."""
    head = b""
    for data in parts:
        head += data
        if len(head) >= 2:
            break
    wrapped = len(head) >= 2 and head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0
    return itertools.chain([head], parts), wrapped
