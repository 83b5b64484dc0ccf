"""The importer's Dramatiq actor. Run with `job-importer worker importer`."""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq.middleware import CurrentMessage

from job_importer.broker import worker_broker
from job_importer.contract import IMPORT_ACTOR
from job_importer.db import ensure_indexes, get_store
from job_importer.pending import PendingItems
from job_importer.redact import install_log_redaction
from job_importer.settings import get_settings
from job_importer.worker import PerProcess
from services.importer.pipeline import ImporterContext, InvalidChunk, import_chunk_payload
from services.importer.ratelimit import RateLimiter

install_log_redaction()  # Dramatiq logs failed messages with their arguments: a feed's URL
settings = get_settings()
broker = worker_broker(settings)


def _build_context() -> ImporterContext:
    store = get_store(settings)
    ensure_indexes(store)
    namespace = settings.queue_namespace
    return ImporterContext(
        settings=settings,
        store=store,
        pending=PendingItems(broker.client, namespace, settings.import_queue, settings.dedupe_ttl_s),
        limiter=RateLimiter(
            broker.client,
            f"{namespace}:__ratelimit__:{settings.import_queue}",
            settings.worker_rate_limit_max,
            settings.worker_rate_limit_duration_ms,
        ),
    )


context = PerProcess(_build_context)


@dramatiq.actor(
    actor_name=IMPORT_ACTOR,
    queue_name=settings.import_queue,
    max_retries=settings.import_max_retries,
    throws=(InvalidChunk,),
)
def import_chunk(chunk: dict[str, Any]) -> None:
    """Write one chunk of job items (acknowledged only after the write and its accounting)."""
    message = CurrentMessage.get_current_message()
    from_dead_letter = bool(message and message.options.get("requeued_from_dlq"))
    import_chunk_payload(context.get(), chunk, from_dead_letter=from_dead_letter)
