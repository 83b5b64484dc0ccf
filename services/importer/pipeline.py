"""One chunk on the importer side: validate, write, record failures, count, release."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from job_importer import failed_items, history, metrics
from job_importer.contract import JOB_ITEMS, Chunk, JobItem, describe
from job_importer.db import Store
from job_importer.failed_items import ItemFailure
from job_importer.pending import PendingItems
from job_importer.settings import Settings
from services.importer.ratelimit import RateLimiter
from services.importer.store import ChunkOutcome, write_items


class InvalidChunk(ValueError):
    """The message is not a chunk at all: retrying cannot help, it goes to the dead letters."""


@dataclass
class ImporterContext:
    settings: Settings
    store: Store
    pending: PendingItems
    limiter: RateLimiter


def import_chunk_payload(
    ctx: ImporterContext, payload: Any, *, from_dead_letter: bool = False
) -> ChunkOutcome:
    """Write one chunk and account for it on its run; safe to repeat for the same chunk."""
    try:
        chunk = Chunk.model_validate(payload)
    except ValidationError as exc:
        raise InvalidChunk(
            f"not a chunk message: {exc.error_count()} problem(s): {exc.errors()[0]['msg']}"
        ) from None
    if chunk.labelled:  # e.g. a feed of the registry, added since this process started
        metrics.name_feed(chunk.feed_url)
    items, invalid = validate_items(chunk.items)
    ctx.limiter.wait()
    outcome = write_items(ctx.store, chunk.run_id, chunk.feed_url, chunk.fetched_at, items)
    outcome.failures[:0] = invalid
    outcome.counts["failed"] += len(invalid)
    failed_items.record(ctx.store, chunk.run_id, chunk.feed_url, outcome.failures)
    # Release before accounting: once the run completes, none of its items may still look like
    # waiting in the queue, or a next run starting at once would count them as duplicates.
    ctx.pending.release([str(data.get("id")) for data in chunk.items if isinstance(data, dict)])
    counted = history.record_chunk(
        ctx.store,
        chunk.run_id,
        chunk.seq,
        outcome.counts,
        [failure.summary() for failure in outcome.failures],
        failures_cap=ctx.settings.run_failures_cap,
        attempt=chunk.attempt,
        was_dead=len(chunk.items) if from_dead_letter else None,
    )
    if counted:  # once per chunk, however often it is delivered
        metrics.count_items(chunk.feed_url, outcome.counts)
    return outcome


def validate_items(raw_items: list[dict[str, Any]]) -> tuple[list[JobItem], list[ItemFailure]]:
    """Validate a whole chunk at once; only when that fails, item by item to find the bad ones."""
    try:
        return JOB_ITEMS.validate_python(raw_items), []
    except ValidationError:
        pass
    items: list[JobItem] = []
    failures: list[ItemFailure] = []
    for position, data in enumerate(raw_items):
        try:
            items.append(JobItem.model_validate(data))
        except ValidationError as exc:
            guid = data.get("guid") if isinstance(data, dict) else None
            failures.append(
                ItemFailure(
                    key=str(data.get("id"))
                    if isinstance(data, dict) and data.get("id")
                    else f"item-{position}",
                    reason=f"invalid item: {describe(exc)}",
                    guid=guid if isinstance(guid, str) else None,
                    raw=str(data)[:2000],
                    stage="import",
                    payload=data if isinstance(data, dict) else None,
                )
            )
    return items, failures
