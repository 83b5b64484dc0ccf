"""The fetcher's Dramatiq actors. Run with `job-importer worker fetcher`."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import dramatiq
from dramatiq.middleware import CurrentMessage

from job_importer.broker import worker_broker
from job_importer.contract import FETCH_ACTOR
from job_importer.db import ensure_indexes, get_store
from job_importer.netguard import guarded_transport, request_guard
from job_importer.pending import PendingItems
from job_importer.redact import install_log_redaction
from job_importer.settings import FeedConfig, get_settings
from job_importer.worker import PerProcess
from services.fetcher.download import make_client
from services.fetcher.pipeline import FetcherContext, RetryLater, run_fetch

install_log_redaction()  # Dramatiq logs failed messages with their arguments: a feed's URL
settings = get_settings()
broker = worker_broker(settings)


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
        guarded_http=make_client(
            settings,
            url_guard=request_guard(allow_private=settings.api_allow_private_feeds),
            transport=None if settings.api_allow_private_feeds else guarded_transport(),
        ),
    )


context = PerProcess(_build_context)


@dramatiq.actor(
    actor_name=FETCH_ACTOR,
    queue_name=settings.fetch_queue,
    max_retries=settings.fetch_max_retries,
    time_limit=max(60_000, int(settings.fetch_total_timeout_s * 1000) * 3),
)
def fetch_feed(run_id: str, feed: dict[str, Any], guarded: bool = False) -> None:
    """Fetch one feed for one run and send its items to the importer."""
    message = CurrentMessage.get_current_message()
    retries = message.options.get("retries", 0) if message else 0
    ctx = context.get()
    try:
        run_fetch(
            replace(ctx, http=ctx.guarded_http) if guarded else ctx,
            run_id,
            FeedConfig.model_validate(feed),
            last_attempt=retries >= settings.fetch_max_retries,
            from_dead_letter=bool(message and message.options.get("requeued_from_dlq")),
        )
    except RetryLater as exc:
        raise dramatiq.Retry(str(exc), delay=exc.delay_ms) from None
