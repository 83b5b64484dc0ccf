"""Writing one chunk to MongoDB: one unordered bulk write, classifying each item exactly once.

Classification of each item against the stored document:

* no document                      -> new (upsert inserts it)
* same content hash                -> unchanged, not rewritten; except when this very run wrote
                                      it (a redelivered chunk): then it keeps the outcome it had
* different content hash           -> updated; new if this very run inserted it in an earlier
                                      fetch attempt (the feed changed in between)

The write filter also requires the stored ``fetched_at`` to be older than ours, so a chunk
delayed behind a newer run's chunk cannot overwrite newer content: MongoDB then rejects the
upsert with a duplicate key, which we count as unchanged (superseded).

How, in one round trip: each item is one upsert by ``_id`` whose update is a pipeline that
rewrites the document only when its content hash differs and its ``fetched_at`` is older, and
otherwise leaves it as it is. MongoDB reports which items it inserted (new) and how many
documents it modified (updated); the rest were matched and left alone (unchanged). The one
case that reads alike but is not: items this run already wrote before this write (an earlier
delivery of the chunk, or an earlier attempt of the run's fetch), which must keep the outcome
they have for the run. So the same bulk carries a no-op probe per item that matches only a
document this run created or updated in an *earlier* write (another ``created_at`` /
``updated_at``); if any probe matched, the items are read back and classified by the run that
created or updated them. A chunk is one write; a redelivered chunk one write and one read. No
write fails on purpose, so no error is built for unchanged items.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
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
    written_at = now()
    ops = [_upsert(item, run_id, feed_url, fetched_at, written_at) for item in items]
    ops += [_replay_probe(item, run_id, written_at) for item in items]
    result = _bulk_write(store, ops)
    matched_before: list[JobItem] = []  # items whose document existed before this write
    for index, item in enumerate(items):
        error = result.errors.get(index)
        if error is not None:
            outcome.counts["failed"] += 1
            outcome.failures.append(_rejected(item, error))
        elif index in result.upserted:
            outcome.counts["new"] += 1
        else:
            matched_before.append(item)
    probes_matched = result.matched - len(matched_before)
    probes_failed = any(index >= len(items) for index in result.errors)
    if probes_matched or probes_failed:
        _classify_written_before(store, run_id, matched_before, outcome)
    elif matched_before:
        if result.modified:
            outcome.counts["updated"] += result.modified
        if len(matched_before) > result.modified:
            outcome.counts["unchanged"] += len(matched_before) - result.modified
    return outcome


def _upsert(
    item: JobItem, run_id: str, feed_url: str, fetched_at: datetime, written_at: datetime
) -> UpdateOne:
    """Insert the item, or rewrite the document if it changed and ours is the newer fetch."""
    fields = item.model_dump(exclude={"id"})
    fields.update(feed_url=feed_url, fetched_at=fetched_at, updated_at=written_at, updated_run=run_id)
    changed = {
        "$and": [{"$ne": ["$content_hash", item.content_hash]}, {"$lt": ["$fetched_at", fetched_at]}]
    }  # a missing fetched_at (a new document) is lower than any date
    created = {"created_at": written_at, "created_run": run_id}
    rewritten = {"$mergeObjects": [{"$literal": created}, "$$ROOT", {"$literal": fields}]}
    return UpdateOne(
        {"_id": item.id}, [{"$replaceWith": {"$cond": [changed, rewritten, "$$ROOT"]}}], upsert=True
    )


def _replay_probe(item: JobItem, run_id: str, written_at: datetime) -> UpdateOne:
    """Matches (without changing anything) only what this run wrote before this write."""
    return UpdateOne(
        {
            "_id": item.id,
            "$or": [
                {"created_run": run_id, "created_at": {"$ne": written_at}},
                {"updated_run": run_id, "updated_at": {"$ne": written_at}},
            ],
        },
        [{"$replaceWith": "$$ROOT"}],
    )


def _classify_written_before(store: Store, run_id: str, items: list[JobItem], outcome: ChunkOutcome) -> None:
    """Items this run wrote before: what it created is new, what it updated is updated (in any
    delivery or fetch attempt); the rest is unchanged (as it was, or superseded by a newer fetch)."""
    docs = {
        doc["_id"]: doc
        for doc in store.jobs.find(
            {"_id": {"$in": [item.id for item in items]}}, {"created_run": 1, "updated_run": 1}
        )
    }
    for item in items:
        doc = docs.get(item.id) or {}
        if doc.get("created_run") == run_id:
            outcome.counts["new"] += 1
        elif doc.get("updated_run") == run_id:
            outcome.counts["updated"] += 1
        else:
            outcome.counts["unchanged"] += 1


@dataclass
class _BulkResult:
    matched: int
    modified: int
    upserted: set[int]
    errors: dict[int, dict[str, Any]]


def _bulk_write(store: Store, ops: list[UpdateOne]) -> _BulkResult:
    details: Mapping[str, Any]
    try:
        details = store.jobs.bulk_write(ops, ordered=False).bulk_api_result
    except BulkWriteError as exc:
        if exc.details.get("writeConcernErrors"):
            raise  # durability unknown: retry the whole chunk (it is idempotent)
        details = exc.details
    errors = {error["index"]: error for error in details.get("writeErrors", [])}
    upserted = {entry["index"] for entry in details.get("upserted", [])}
    return _BulkResult(
        matched=details.get("nMatched", 0),
        modified=details.get("nModified", 0),
        upserted=upserted,
        errors=errors,
    )


def _rejected(item: JobItem, error: dict[str, Any]) -> ItemFailure:
    return ItemFailure(
        key=item.id,
        reason=f"MongoDB rejected the document: {error.get('errmsg', 'unknown error')}"[:1000],
        guid=item.guid,
        raw=item.title,
        stage="import",
        payload=item.model_dump(mode="json"),
    )
