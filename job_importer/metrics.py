"""Our Prometheus metrics: every name and label defined here, incremented by one-line hooks.

A leaf: it imports nothing of ours but settings and redact, so every module may hook into it.

In the worker services these land in Dramatiq's multiprocess registry: ``cli.workers.worker_env``
sets ``PROMETHEUS_MULTIPROC_DIR`` before the process starts, so prometheus_client writes them
to the same files Dramatiq's Prometheus middleware serves on the service's metrics port. The
API process serves them (mostly empty there) with the queue gauges of
:class:`job_importer.queues.QueueCollector`.

Labels stay bounded: ``feed`` is the feed URL for configured feeds and for the registry's feeds
(named by the fetch messages that carry them, then by their chunks in the importer:
:func:`name_feed`), and ``other`` for ad-hoc ones.
The URL is always the redacted one (no ``user:password``): metrics are served without a token, and
the fetcher (which holds the full URL) and the importer (which sees the redacted one on chunks)
must label a feed alike.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from prometheus_client import Counter, Gauge, Histogram

from job_importer.redact import redact
from job_importer.settings import FeedConfig

OTHER_FEED = "other"
FETCH_RESULTS = frozenset(
    {
        "ok",
        "not_modified",
        "partial",
        "http_4xx",
        "http_5xx",
        "timeout",
        "connect",
        "too_large",
        "redirects",
        "parse_error",
        "other",
    }
)

ITEMS = Counter(
    "job_importer_items",
    "Feed items by outcome: new, updated, unchanged, duplicate, failed; and expired, reactivated.",
    ["feed", "outcome"],
)
FEED_FETCH_SECONDS = Histogram(
    "job_importer_feed_fetch_duration_seconds",
    "Time to download and parse one feed.",
    ["feed"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
FEED_FETCHES = Counter(
    "job_importer_feed_fetches",
    "Feed fetch attempts by result; ``source`` is the feed's (``other`` with the ad-hoc feeds).",
    ["feed", "source", "result"],
)
FETCH_DELAYS = Counter(
    "job_importer_fetch_host_delays",
    "Fetches sent again later because their host was at FETCH_PER_HOST_CONCURRENCY.",
    ["feed"],
)
RUN_SECONDS = Histogram(
    "job_importer_run_duration_seconds",
    "Time from a run's first fetch attempt to its completion or failure.",
    ["status"],
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
RUNS = Counter("job_importer_runs", "Finished import runs (one per feed) by status.", ["status"])
LAST_SUCCESS = Gauge(
    "job_importer_last_success_timestamp_seconds",
    "When a run of the feed last completed (Unix time).",
    ["feed"],
    multiprocess_mode="max",
)
ACTIVE_LISTINGS = Gauge(
    "job_importer_active_listings",
    "The feed's active listings, as counted when its last run completed.",
    ["feed"],
    multiprocess_mode="mostrecent",
)
CHUNK_WRITE_SECONDS = Histogram(
    "job_importer_chunk_write_duration_seconds",
    "Time to write one chunk to MongoDB (one find and one bulk write).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

_configured: frozenset[str] = frozenset()


def configure_feeds(feeds: Iterable[FeedConfig]) -> None:
    """Name the configured feeds: they get their own ``feed`` label value, the rest share ``other``."""
    global _configured
    _configured = frozenset(redact(feed.url) for feed in feeds)


def name_feed(url: str) -> None:
    """Give one more feed its own label: a feed of the registry (one per feed the operator added,
    so the label set stays bounded), named by the fetch message that carries it."""
    global _configured
    label = redact(url)
    if label not in _configured:
        _configured = _configured | {label}


def feed_label(url: str | None) -> str:
    """The ``feed`` label of a feed URL, full or redacted: the redacted URL, or ``other``."""
    if url is None:
        return OTHER_FEED
    label = redact(url)
    return label if label in _configured else OTHER_FEED


def count_items(feed_url: str, counts: Mapping[str, int]) -> None:
    feed = feed_label(feed_url)
    for outcome, count in counts.items():
        if count:
            ITEMS.labels(feed, outcome).inc(count)


def fetch_result(kind: str, http_status: int | None = None) -> str:
    """The ``result`` label of a failed fetch, from the fetcher's error kind."""
    if kind == "http" and http_status is not None:
        return "http_5xx" if http_status >= 500 else "http_4xx" if http_status >= 400 else OTHER_FEED
    return kind if kind in FETCH_RESULTS else OTHER_FEED


def feed_fetched(feed_url: str, source: str, result: str, started: float) -> None:
    """One fetch attempt of the feed (of ``source``) ended with ``result``; ``started`` is its
    ``time.monotonic()``."""
    feed = feed_label(feed_url)
    FEED_FETCH_SECONDS.labels(feed).observe(time.monotonic() - started)
    FEED_FETCHES.labels(feed, source if feed != OTHER_FEED else OTHER_FEED, result).inc()


def fetch_delayed(feed_url: str) -> None:
    FETCH_DELAYS.labels(feed_label(feed_url)).inc()


def run_finished(feed_url: str | None, status: str, duration_s: float | None) -> None:
    RUNS.labels(status).inc()
    if duration_s is not None:
        RUN_SECONDS.labels(status).observe(duration_s)
    if status == "completed":
        LAST_SUCCESS.labels(feed_label(feed_url)).set(time.time())


def listings_changed(feed_url: str | None, expired: int, reactivated: int, active: int | None) -> None:
    """A run's end: what it expired and brought back, and the feed's active listings after it."""
    count_items(feed_url or OTHER_FEED, {"expired": expired, "reactivated": reactivated})
    if active is not None and feed_label(feed_url) != OTHER_FEED:  # ad-hoc feeds share one label
        ACTIVE_LISTINGS.labels(feed_label(feed_url)).set(active)
