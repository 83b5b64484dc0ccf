"""``python -m bench.profile``: where the fetcher's CPU goes per feed, by cProfile.

Parses, normalises and chunks one benchmark feed in process (what a fetcher worker does between
the download and the Redis calls) under cProfile, and prints the top functions by their own
time. ``--text real`` profiles the real-text feed. The numbers are CPU inside one process, with
cProfile's overhead (which inflates the many small calls): read the order, not the totals.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time

from bench import feeds
from job_importer.settings import FeedConfig, Settings
from services.fetcher.chunks import Chunker
from services.fetcher.normalize import normalize
from services.fetcher.parse import parse_feed


def fetcher_work(body: bytes, settings: Settings) -> int:
    parsed = parse_feed(body, fast=settings.fast_parse)
    normalized = normalize(parsed.entries, FeedConfig(url="http://127.0.0.1/feed.xml", source="bench"))
    chunker = Chunker(settings.worker_batch_size, settings.chunk_max_bytes, settings.worker_flush_ms)
    chunks = sum(1 for item in normalized.items for _ in chunker.add(item))
    return chunks + sum(1 for _ in chunker.flush())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--text", default="real", choices=["ascii", "real"])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    body = feeds.feed(feeds.jobs(args.items, 1400, start=1000, seed=7, text=args.text))
    settings = Settings(feeds=[])
    fetcher_work(body, settings)  # warm up
    started = time.process_time()
    fetcher_work(body, settings)
    plain = time.process_time() - started
    profiler = cProfile.Profile()
    profiler.runcall(fetcher_work, body, settings)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.top)
    print(
        f"{args.text} text, {args.items} items, {len(body) / 1e6:.1f} MB: {plain:.3f} CPU-s without the profiler"
    )
    print(out.getvalue())


if __name__ == "__main__":
    main()
