"""The importer's Dramatiq actor. Run with `job-importer worker importer`."""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq.middleware import CurrentMessage

from job_importer.contract import IMPORT_ACTOR
from job_importer.db import open_store
from job_importer.keys import Keys
from job_importer.pending import PendingItems
from job_importer.worker import PerProcess, start_worker_process
from services.importer.pipeline import ImporterContext, InvalidChunk, import_chunk_payload
from services.importer.ratelimit import RateLimiter

settings, broker = start_worker_process()


def _build_context() -> ImporterContext:
    store = open_store(settings)
    namespace = settings.queue_namespace
    return ImporterContext(
        settings=settings,
        store=store,
        pending=PendingItems.for_settings(broker.client, settings),
        limiter=RateLimiter(
            broker.client,
            Keys(namespace).rate_limit(settings.import_queue),
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
