"""Content-Encoding undone a bounded piece at a time (pure functions: bytes in, bytes out)."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator

import pytest

from services.fetcher.decoding import MAX_CODINGS, PIECE, Undecodable, decoded

TEXT = b"<rss>" + bytes(range(256)) * 4000 + b"</rss>"


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("encoding", "encoded"),
    [
        (None, TEXT),
        ("identity", TEXT),
        ("gzip", gzip.compress(TEXT)),
        ("x-gzip", gzip.compress(TEXT)),
        ("deflate", zlib.compress(TEXT)),
        ("deflate", raw_deflate(TEXT)),  # what some servers send as "deflate"
        ("gzip, gzip", gzip.compress(gzip.compress(TEXT))),
        ("deflate, GZIP", gzip.compress(zlib.compress(TEXT))),
    ],
)
def test_each_coding_is_undone(encoding: str | None, encoded: bytes) -> None:
    for size in (1, 7, 4096, len(encoded)):
        assert b"".join(decoded(split(encoded, size), encoding)) == TEXT


def test_no_piece_is_bigger_than_the_limit_however_much_one_part_expands() -> None:
    bomb = gzip.compress(gzip.compress(bytes(8 * 1024**2), 9), 9)
    assert len(bomb) < 16 * 1024
    pieces = decoded([bomb], "gzip, gzip")
    total = 0
    for piece in pieces:
        assert len(piece) <= PIECE
        total += len(piece)
    assert total == 8 * 1024**2


def test_unsupported_and_too_many_codings_are_refused() -> None:
    with pytest.raises(Undecodable, match="unsupported Content-Encoding 'br'"):
        decoded([b"x"], "br")
    with pytest.raises(Undecodable, match="layers"):
        decoded([b"x"], ", ".join(["gzip"] * (MAX_CODINGS + 1)))
    with pytest.raises(Undecodable):
        b"".join(decoded([b"not gzip at all"], "gzip"))


def test_nothing_is_read_past_the_end_of_the_compressed_stream() -> None:
    read: list[int] = []

    def parts() -> Iterator[bytes]:
        yield gzip.compress(TEXT)
        for n in range(1000):  # a server sending on for ever after the end
            read.append(n)
            yield b"garbage"

    assert b"".join(decoded(parts(), "gzip")) == TEXT
    assert len(read) <= 1
