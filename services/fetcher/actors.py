"""The fetcher's Dramatiq actors. Run with `job-importer worker fetcher`."""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq.middleware import CurrentMessage

from job_importer.broker import build_broker
from job_importer.contract import FETCH_ACTOR
from job_importer.db import ensure_indexes, get_store
from job_importer.pending import PendingItems
from job_importer.settings import FeedConfig, get_settings
from job_importer.workers import PerProcess

from .download import make_client
from .pipeline import FetcherContext, RetryLater, run_fetch

settings = get_settings()
broker = build_broker(settings)


def _build_context() -> FetcherContext:
    store = get_store(settings)
    ensure_indexes(store)
    return FetcherContext(
        settings=settings,
        store=store,
        broker=broker,
        pending=PendingItems(
            broker.client, settings.queue_namespace, settings.import_queue, settings.dedupe_ttl_s
        ),
        http=make_client(settings),
    )


context = PerProcess(_build_context)


@dramatiq.actor(
    actor_name=FETCH_ACTOR,
    queue_name=settings.fetch_queue,
    max_retries=settings.fetch_max_retries,
    time_limit=max(60_000, int(settings.fetch_total_timeout_s * 1000) * 3),
)
def fetch_feed(run_id: str, feed: dict[str, Any]) -> None:
    """Fetch one feed for one run and send its items to the importer."""
    message = CurrentMessage.get_current_message()
    retries = message.options.get("retries", 0) if message else 0
    try:
        run_fetch(
            context.get(),
            run_id,
            FeedConfig.model_validate(feed),
            last_attempt=retries >= settings.fetch_max_retries,
        )
    except RetryLater as exc:
        raise dramatiq.Retry(str(exc), delay=exc.delay_ms) from None
