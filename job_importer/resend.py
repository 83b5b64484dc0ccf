"""Re-sending failed items: the stored payloads of import-stage failures go back to the importer.

Each feed's items become one new run (trigger "api") with its own exact counts, so the history
of the run where they first failed stays as it was. Fetch-stage failures (no identity, invalid
fields) have no payload: they can only be fixed at the source and are skipped.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dramatiq.brokers.redis import RedisBroker

from job_importer import feed_registry, history
from job_importer.contract import ENVELOPE_BYTES, chunk_message
from job_importer.db import Store
from job_importer.settings import FeedConfig, Settings, source_for_url


@dataclass(frozen=True)
class Resent:
    batch_id: str
    run_ids: list[str]
    items: int
    skipped: int  # fetch-stage failures: nothing to re-send


def resendable(doc: dict[str, Any]) -> bool:
    return isinstance(doc.get("payload"), dict)


def resend_failed(
    settings: Settings, store: Store, broker: RedisBroker, docs: Iterable[dict[str, Any]]
) -> Resent:
    """Send the payloads of these failed-item records as chunks of new runs, then delete the records."""
    by_feed: dict[str, list[dict[str, Any]]] = defaultdict(list)
    skipped = 0
    for doc in docs:
        if resendable(doc):
            by_feed[doc["feed_url"]].append(doc)
        else:
            skipped += 1
    batch_id = history.new_id("batch-")
    run_ids = [_resend_feed(settings, store, broker, batch_id, url, group) for url, group in by_feed.items()]
    return Resent(batch_id, run_ids, sum(len(group) for group in by_feed.values()), skipped)


def _resend_feed(
    settings: Settings,
    store: Store,
    broker: RedisBroker,
    batch_id: str,
    feed_url: str,
    docs: list[dict[str, Any]],
) -> str:
    source = docs[0]["payload"].get("source")
    feed = FeedConfig(url=feed_url, source=source if isinstance(source, str) else source_for_url(feed_url))
    [run_id] = history.create_runs(store, [feed], "api", batch_id)
    history.start_fetch(store, run_id)
    labelled = _registered(store, feed_url)
    chunks = 0
    try:
        for fetched_at, items in _chunks(settings, docs):
            message = chunk_message(
                settings, run_id=run_id, seq=chunks, feed_url=feed_url, fetched_at=fetched_at, items=items,
                labelled=labelled,
            )  # fmt: skip
            broker.enqueue(message)
            chunks += 1
    except Exception as exc:  # Redis down: nothing is lost, the records stay
        history.fail_run(store, run_id, f"could not enqueue the items again: {exc}")
        raise
    history.finish_fetch(
        store, run_id, http_status=None, fetched=len(docs), duplicates=0, failures=[], chunks_total=chunks,
        failures_cap=settings.run_failures_cap,
    )  # fmt: skip
    store.failed_items.delete_many({"_id": {"$in": [doc["_id"] for doc in docs]}})
    return run_id


def _chunks(settings: Settings, docs: list[dict[str, Any]]) -> Iterator[tuple[datetime, list[bytes]]]:
    """Chunks within the usual item and byte caps, one original run at a time.

    A chunk carries the time its items failed as its fetch time, so it cannot overwrite what a
    later fetch of the same listings has written since (the importer keeps the newer content).
    """
    by_run: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for doc in docs:
        by_run[doc["run_id"]].append(doc)
    max_bytes = settings.chunk_max_bytes - ENVELOPE_BYTES
    for group in by_run.values():
        fetched_at = min(doc["created_at"] for doc in group)
        items: list[bytes] = []
        size = 0
        for doc in group:
            data = json.dumps(doc["payload"], ensure_ascii=False, default=str).encode()
            if items and (len(items) >= settings.worker_batch_size or size + len(data) + 1 > max_bytes):
                yield fetched_at, items
                items, size = [], 0
            items.append(data)
            size += len(data) + 1
        if items:
            yield fetched_at, items


def _registered(store: Store, feed_url: str) -> bool:
    """Whether the feed is in the registry: its items then keep the feed's own metric label."""
    try:
        feed_registry.get_feed(store, feed_url)
    except feed_registry.FeedNotFound:
        return False
    return True
