"""The fetcher's Dramatiq actors. Run with `job-importer worker fetcher`."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import dramatiq
from dramatiq.message import generate_unique_id
from dramatiq.middleware import CurrentMessage

from job_importer import metrics
from job_importer.contract import FETCH_ACTOR
from job_importer.db import open_store
from job_importer.netguard import guarded_transport, request_guard
from job_importer.pending import PendingItems
from job_importer.settings import FeedConfig
from job_importer.worker import PerProcess, start_worker_process
from services.fetcher.download import make_client
from services.fetcher.pipeline import FetcherContext, RetryLater, run_fetch
from services.fetcher.politeness import HostBusy, HostLimiter

settings, broker = start_worker_process()
log = logging.getLogger(__name__)


def _build_context() -> FetcherContext:
    store = open_store(settings)
    return FetcherContext(
        settings=settings,
        store=store,
        broker=broker,
        pending=PendingItems.for_settings(broker.client, settings),
        http=make_client(settings),
        guarded_http=make_client(
            settings,
            url_guard=request_guard(allow_private=settings.api_allow_private_feeds),
            transport=None if settings.api_allow_private_feeds else guarded_transport(),
        ),
        hosts=HostLimiter.for_settings(broker.client, settings),
    )


context = PerProcess(_build_context)


@dramatiq.actor(
    actor_name=FETCH_ACTOR,
    queue_name=settings.fetch_queue,
    max_retries=settings.fetch_max_retries,
    time_limit=max(60_000, int(settings.fetch_total_timeout_s * 1000) * 3),
)
def fetch_feed(run_id: str, feed: dict[str, Any], guarded: bool = False, registered: bool = False) -> None:
    """Fetch one feed for one run and send its items to the importer."""
    if registered:  # a feed of the registry, maybe added since this process started
        metrics.name_feed(str(feed.get("url", "")))
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
    except HostBusy as exc:
        if message is None:  # called outside a worker: nothing to send again
            raise
        # Sent again as it is, under a new id (its retries untouched, so this costs none); this
        # delivery then ends normally and is acknowledged. The run stays queued meanwhile.
        broker.enqueue(message.copy(message_id=generate_unique_id()), delay=exc.delay_ms)
        metrics.fetch_delayed(feed.get("url", ""))
        log.info("fetch of run %s delayed: %s", run_id, exc)
