"""Hostile inputs shared by the parse, download and end-to-end tests, and a resource bound."""

from __future__ import annotations

import gzip
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache


def rss(items: str, declaration: str = '<?xml version="1.0" encoding="UTF-8"?>') -> str:
    return f'{declaration}<rss version="2.0"><channel><title>t</title><link>https://x.example</link>{items}</channel></rss>'


@cache
def gzip_of_a_gigabyte() -> bytes:
    """1 GB of zeros, gzipped into about 1 MB (see :func:`gzip_of_zeros`)."""
    return gzip_of_zeros(1024)


@cache
def gzip_of_zeros(mebibytes: int) -> bytes:
    """``mebibytes`` MiB of zeros, gzipped into about 1 KB each: one compressed mebibyte repeated
    (a full flush makes each copy stand alone). The trailer's checksum is the first mebibyte's; a
    reader that stops at the size cap never gets there."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # gzip framing
    first = compressor.compress(b"\0" * 1024**2) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(b"\0" * 1024**2) + compressor.flush(zlib.Z_FULL_FLUSH)
    return first + again * (mebibytes - 1) + compressor.flush()


@cache
def nested_gzip_bomb(mebibytes: int) -> bytes:
    """``gzip_of_zeros(mebibytes)`` gzipped again: a few KB for ``Content-Encoding: gzip, gzip``."""
    return gzip.compress(gzip_of_zeros(mebibytes), 9)


@dataclass
class Usage:
    seconds: float = 0.0
    peak_mb: float = 0.0


@contextmanager
def bounded(seconds: float, megabytes: float) -> Iterator[Usage]:
    """Measure the block; fail if it took longer or allocated more at its peak than allowed.

    The bounds are safety limits that an attack would exceed by orders of magnitude, not speed
    claims (benchmarks measure speed).
    """
    usage = Usage()
    tracemalloc.start()
    started = time.monotonic()
    try:
        yield usage
    finally:
        usage.seconds = time.monotonic() - started
        usage.peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    assert usage.seconds < seconds and usage.peak_mb < megabytes, usage
