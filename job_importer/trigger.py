"""Starting imports: one queued run per feed, one fetch message per run."""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass

from dramatiq.brokers.redis import RedisBroker

from job_importer import history
from job_importer.contract import fetch_message
from job_importer.db import Store
from job_importer.history import Trigger
from job_importer.settings import FeedConfig, Settings


@dataclass(frozen=True)
class Started:
    batch_id: str
    run_ids: list[str]


def start_import(
    settings: Settings,
    store: Store,
    broker: RedisBroker,
    feeds: Sequence[FeedConfig],
    trigger: Trigger,
    *,
    guarded: Container[str] = frozenset(),
    registered: Container[str] = frozenset(),
    sent: list[FeedConfig] | None = None,
) -> Started:
    """Create the runs first (so they are visible as queued), then enqueue their fetches.

    Fetches of the URLs in ``guarded`` go through the SSRF guard (see ``job_importer.netguard``);
    the URLs in ``registered`` are feeds of the registry (their metrics get their own label).
    Each feed whose fetch is enqueued is appended to ``sent``, so a caller that gets an error
    knows which feeds are still to start.
    """
    batch_id = history.new_id("batch-")
    run_ids = history.create_runs(store, feeds, trigger, batch_id)
    for index, (run_id, feed) in enumerate(zip(run_ids, feeds, strict=True)):
        try:
            message = fetch_message(
                settings, run_id, feed, guarded=feed.url in guarded, registered=feed.url in registered
            )
            broker.enqueue(message)
        except Exception as exc:  # Redis down: no run may stay "queued" forever, this one nor the next
            for unsent in run_ids[index:]:
                history.fail_run(store, unsent, f"could not enqueue the fetch: {exc}")
            raise
        if sent is not None:
            sent.append(feed)
    return Started(batch_id=batch_id, run_ids=run_ids)
