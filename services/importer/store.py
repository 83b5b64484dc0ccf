"""Writing one chunk to MongoDB: one read of what exists, one unordered bulk write of what changed.

Classification of each item against the stored document:

* no document                      -> new (upsert inserts it)
* same content hash                -> unchanged, not rewritten; except when this very run wrote
                                      it (a redelivered chunk): then it keeps the outcome it had
* different content hash           -> updated

The write filter also requires the stored ``fetched_at`` to be older than ours, so a chunk
delayed behind a newer run's chunk cannot overwrite newer content: MongoDB then rejects the
upsert with a duplicate key, which we count as unchanged (superseded).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.errors import BulkWriteError

from job_importer import metrics
from job_importer.contract import JobItem
from job_importer.db import Store
from job_importer.failed_items import ItemFailure
from job_importer.history import now

DUPLICATE_KEY = 11000


@dataclass
class ChunkOutcome:
    counts: Counter[str] = field(default_factory=Counter)  # new / updated / unchanged / failed
    failures: list[ItemFailure] = field(default_factory=list)


@metrics.CHUNK_WRITE_SECONDS.time()
def write_items(
    store: Store, run_id: str, feed_url: str, fetched_at: datetime, items: list[JobItem]
) -> ChunkOutcome:
    """Upsert a chunk's valid items and classify each one exactly once."""
    outcome = ChunkOutcome()
    if not items:
        return outcome
    existing = {
        doc["_id"]: doc
        for doc in store.jobs.find(
            {"_id": {"$in": [item.id for item in items]}},
            {"content_hash": 1, "created_run": 1, "updated_run": 1},
        )
    }
    ops: list[UpdateOne] = []
    planned: list[tuple[JobItem, str]] = []
    written_at = now()
    for item in items:
        kind = _classify(item, existing.get(item.id), run_id)
        if kind in ("new", "updated") and not _is_replay(existing.get(item.id), item, run_id):
            ops.append(_upsert(item, run_id, feed_url, fetched_at, written_at))
            planned.append((item, kind))
        else:
            outcome.counts[kind] += 1
    if ops:
        _bulk_write(store, ops, planned, outcome)
    return outcome


def _classify(item: JobItem, doc: dict[str, Any] | None, run_id: str) -> str:
    if doc is None:
        return "new"
    if doc.get("content_hash") != item.content_hash:
        return "updated"
    if doc.get("created_run") == run_id:
        return "new"  # we inserted it on an earlier delivery of this chunk
    if doc.get("updated_run") == run_id:
        return "updated"
    return "unchanged"


def _is_replay(doc: dict[str, Any] | None, item: JobItem, run_id: str) -> bool:
    """The stored document already holds exactly what this run would write."""
    return doc is not None and doc.get("content_hash") == item.content_hash


def _upsert(
    item: JobItem, run_id: str, feed_url: str, fetched_at: datetime, written_at: datetime
) -> UpdateOne:
    fields = item.model_dump(exclude={"id"})
    fields.update(feed_url=feed_url, fetched_at=fetched_at, updated_at=written_at, updated_run=run_id)
    return UpdateOne(
        {"_id": item.id, "$or": [{"fetched_at": {"$lt": fetched_at}}, {"fetched_at": None}]},
        {"$set": fields, "$setOnInsert": {"created_at": written_at, "created_run": run_id}},
        upsert=True,
    )


def _bulk_write(
    store: Store, ops: list[UpdateOne], planned: list[tuple[JobItem, str]], outcome: ChunkOutcome
) -> None:
    try:
        store.jobs.bulk_write(ops, ordered=False)
        errors: list[dict[str, Any]] = []
    except BulkWriteError as exc:
        if exc.details.get("writeConcernErrors"):
            raise  # durability unknown: retry the whole chunk (it is idempotent)
        errors = exc.details.get("writeErrors", [])
    rejected = {error["index"]: error for error in errors}
    for index, (item, kind) in enumerate(planned):
        error = rejected.get(index)
        if error is None:
            outcome.counts[kind] += 1
        elif error.get("code") == DUPLICATE_KEY:
            outcome.counts["unchanged"] += 1  # a newer fetch already wrote this document
        else:
            outcome.counts["failed"] += 1
            outcome.failures.append(
                ItemFailure(
                    key=item.id,
                    reason=f"MongoDB rejected the document: {error.get('errmsg', 'unknown error')}"[:1000],
                    guid=item.guid,
                    raw=item.title,
                    stage="import",
                    payload=item.model_dump(mode="json"),
                )
            )
