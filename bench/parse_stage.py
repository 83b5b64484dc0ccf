"""The parse stage alone: CPU time per feed for each way of reading it, as items/s per core."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import feedparser
from lxml import etree

from bench.stats import summary
from services.fetcher.fastparse import _parser, parse_fast
from services.fetcher.parse import parse_with_feedparser


def candidates(body: bytes) -> dict[str, Callable[[], object]]:
    parser = _parser()
    return {
        "feedparser, defaults": lambda: feedparser.parse(body),
        "feedparser, tuned": lambda: parse_with_feedparser(body),
        "fast path": lambda: parse_fast(body),
        "lxml tree only (ceiling)": lambda: etree.fromstring(body, parser),
    }


def measure(body: bytes, items: int, runs: int) -> dict[str, Any]:
    """Median/min/max items per CPU-second (one core) of each parser over ``runs`` runs."""
    fast = parse_fast(body)
    if fast is None or fast != parse_with_feedparser(body):
        raise RuntimeError("the fast path did not read the benchmark feed as feedparser does")
    results: dict[str, Any] = {"feed_bytes": len(body), "items": items, "parsers": {}}
    for name, parse in candidates(body).items():
        parse()  # warm up: imports, caches
        rates = []
        for _ in range(runs):
            started = time.process_time()
            parse()
            rates.append(items / max(time.process_time() - started, 1e-9))
        results["parsers"][name] = {"items_per_cpu_s": summary(rates)}
    return results
