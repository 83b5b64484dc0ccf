"""The parse stage alone: CPU time per feed for each way of reading it, as items/s per core."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import feedparser
from lxml import etree

from bench.feeds import feed as feed_bytes
from bench.stats import summary
from devstack.samplefeeds import greenhouse_json, jobxml_feed, json_feed, lever_json
from job_importer.settings import FeedConfig
from services.fetcher import jsonstream
from services.fetcher.fastparse import _parser, parse_fast
from services.fetcher.formats import JSON_FORMATS, Document, read_document
from services.fetcher.parse import parse_with_feedparser
from services.fetcher.spool import Spool
from services.fetcher.streaming import open_stream


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


def format_documents(jobs: list[Any]) -> dict[str, tuple[FeedConfig, Document]]:
    """The same listings in each source format, as the pipeline hands them to the adapters."""
    url = "https://bench.example/feed"
    return {
        "rss (fast path, with the response's URL and charset)": (
            FeedConfig(url=url, format="rss"),
            Document(feed_bytes(jobs), "application/rss+xml; charset=utf-8", url),
        ),
        "jobxml": (FeedConfig(url=url, format="jobxml"), Document(jobxml_feed(jobs), "text/xml", url)),
        "jsonfeed": (
            FeedConfig(url=url, format="jsonfeed"),
            Document(json_feed(jobs), "application/feed+json", url),
        ),
        "lever": (FeedConfig(url=url, format="lever"), Document(lever_json(jobs), "application/json", url)),
        "greenhouse": (
            FeedConfig(url=url, format="greenhouse"),
            Document(greenhouse_json(jobs), "application/json", url),
        ),
    }


def measure_formats(jobs: list[Any], runs: int) -> dict[str, Any]:
    """Items per CPU-second (one core) of each format's adapter, reading the same listings: read
    whole (``read_document``) and, for the JSON formats, streamed from the spool as the fetcher
    reads them (``open_stream``, ijson's backend named)."""
    results: dict[str, Any] = {"items": len(jobs), "json_backend": jsonstream.BACKEND, "formats": {}}
    readers: dict[str, tuple[int, Callable[[], int]]] = {}
    for name, (config, document) in format_documents(jobs).items():

        def read_whole(config: FeedConfig = config, document: Document = document) -> int:
            parsed = read_document(document, config, fast=True, fetch_page=_no_pages)
            return len(parsed.entries)

        readers[name] = (len(document.body), read_whole)
        if config.format in JSON_FORMATS:
            readers[f"{name}, streamed ({jsonstream.BACKEND})"] = (
                len(document.body),
                _streamed(config, document),
            )
    for name, (size, read) in readers.items():
        if read() != len(jobs):
            raise RuntimeError(f"{name}: the adapter did not read every listing")
        rates = []
        for _ in range(runs):
            started = time.process_time()
            read()
            rates.append(len(jobs) / max(time.process_time() - started, 1e-9))
        results["formats"][name] = {"feed_bytes": size, "items_per_cpu_s": summary(rates)}
    return results


def _streamed(config: FeedConfig, document: Document) -> Callable[[], int]:
    """Reading the document an item at a time from a spool (on disk above 1 MiB, as downloaded)."""
    spool = Spool()
    spool.write(document.body)

    def read() -> int:
        stream = open_stream(spool, document.content_type, document.url, config, fast=True)
        if stream is None:
            raise RuntimeError(f"{config.format}: not streamed")
        return sum(1 for _ in stream)

    return read


def _no_pages(url: str) -> Document:
    raise RuntimeError(f"no further pages in the benchmark: {url}")
