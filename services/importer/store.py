"""Writing one chunk to MongoDB: one unordered bulk write, classifying each item exactly once.

Classification of each item against the stored document:

* no document                      -> new (upsert inserts it)
* same content hash                -> unchanged, not rewritten; except when this very run wrote
                                      it (a redelivered chunk): then it keeps the outcome it had
* different content hash           -> updated; new if this very run inserted it in an earlier
                                      fetch attempt (the feed changed in between)

The rewrite also requires the stored ``fetched_at`` to be older than ours, so a chunk delayed
behind a newer run's chunk cannot overwrite newer content: the update then leaves the document
as it is, and the item counts as unchanged (superseded).

How, with one write operation per item: each item is one upsert by ``_id`` whose update is a
pipeline that rewrites the document only when its content hash differs and its ``fetched_at``
is older, and otherwise leaves it as it is. MongoDB reports which items it inserted (new) and
how many documents it modified (updated); the rest were matched and left alone (unchanged). The
one case that reads alike but is not: items this run already wrote before this write (an earlier
delivery of the chunk, or an earlier attempt of the run's fetch), which must keep the outcome
they have for the run. So the upsert's filter also requires that the document was neither
created nor updated by this run: for a document this run wrote before, the filter matches
nothing, the upsert tries to insert it again and MongoDB rejects that with a duplicate key,
item by item. Only then are those items read back and classified by the run that created or
updated them; the ones whose content differs from what this run wrote before (a fetch attempt
that saw a changed feed) are written once more without that condition. A chunk is one write; a
redelivered chunk one write and one read (and a rewrite for content an earlier attempt wrote
differently). Nothing fails on purpose on a first delivery, so no error is built for unchanged
items.

The listing's lifecycle (:mod:`job_importer.lifecycle`) rides on the same writes: a rewrite also
marks the listing seen by this run and brings it back if it had expired. An unchanged listing is
left alone by the upsert (so that it counts as unchanged), and is marked seen (or reactivated) by
one more bulk write for the chunk, only when the chunk has such items.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.errors import BulkWriteError

from job_importer import lifecycle, metrics
from job_importer.contract import JobItem
from job_importer.db import Store
from job_importer.failed_items import ItemFailure
from job_importer.history import now

DUPLICATE_KEY = 11000  # MongoDB's error code: here, an upsert that found this run's own document


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
    _write(store, run_id, feed_url, fetched_at, written_at, items, outcome, retry_raced=True)
    if outcome.counts["new"] + outcome.counts["updated"] < len(items):
        # Some were left as they are (unchanged, or rejected): they are still in the feed.
        ids = [item.id for item in items]
        store.jobs.bulk_write(
            lifecycle.seen_updates(ids, run_id, feed_url, fetched_at, written_at), ordered=False
        )
    return outcome


def _write(
    store: Store,
    run_id: str,
    feed_url: str,
    fetched_at: datetime,
    written_at: datetime,
    items: list[JobItem],
    outcome: ChunkOutcome,
    *,
    retry_raced: bool,
) -> None:
    result = _bulk_write(store, _upserts(items, run_id, feed_url, fetched_at, written_at))
    written_before: list[JobItem] = []  # by this run, in an earlier write
    for index, item in enumerate(items):
        error = result.errors.get(index)
        if error is not None and error.get("code") == DUPLICATE_KEY:
            written_before.append(item)
        elif error is not None:
            outcome.counts["failed"] += 1
            outcome.failures.append(_rejected(item, error))
        elif index in result.upserted:
            outcome.counts["new"] += 1
    matched = len(items) - len(result.errors) - len(result.upserted)
    if result.modified:
        outcome.counts["updated"] += result.modified
    if matched > result.modified:
        outcome.counts["unchanged"] += matched - result.modified
    if not written_before:
        return
    changed, raced = _classify_written_before(store, run_id, written_before, outcome, retry_raced)
    if changed:  # an earlier fetch attempt of this run wrote other content: ours is newer
        _bulk_write(
            store, _upserts(changed, run_id, feed_url, fetched_at, written_at, only_if_not_written=False)
        )
    if raced:  # another run inserted them at the same moment: now they are there to compare with
        _write(store, run_id, feed_url, fetched_at, written_at, raced, outcome, retry_raced=False)


def _upserts(
    items: list[JobItem],
    run_id: str,
    feed_url: str,
    fetched_at: datetime,
    written_at: datetime,
    *,
    only_if_not_written: bool = True,
) -> list[UpdateOne]:
    """Per item: insert it, or rewrite the document if it changed and ours is the newer fetch.

    ``only_if_not_written``: only a document this run neither created nor updated; for one it
    did, MongoDB rejects the upsert with a duplicate key (the item was written before).

    What a rewrite writes is one expression for the whole chunk (two: for items whose own expiry
    date has passed, and the rest): the item is bound to ``$$item`` in each upsert, once."""
    created = {"$literal": {"created_at": written_at, "created_run": run_id}}
    rewritten = {
        passed: lifecycle.merged_with_lifecycle(
            [created, "$$ROOT", "$$item"],
            run_id=run_id,
            fetched_at=fetched_at,
            now=written_at,
            expiry_passed=passed,
        )
        for passed in (False, True)
    }
    stamps = {"feed_url": feed_url, "fetched_at": fetched_at, "updated_at": written_at, "updated_run": run_id}
    upserts = []
    for item in items:
        fields = item.model_dump(exclude={"id"})
        fields.update(stamps)
        changed = {
            "$and": [{"$ne": ["$content_hash", item.content_hash]}, {"$lt": ["$fetched_at", fetched_at]}]
        }  # a missing fetched_at (a new document) is lower than any date
        document = {
            "$cond": [changed, rewritten[lifecycle.date_passed(item.expires_at, fetched_at)], "$$ROOT"]
        }
        bound = {"$let": {"vars": {"item": {"$literal": fields}}, "in": document}}
        selector: dict[str, Any] = {"_id": item.id}
        if only_if_not_written:
            selector.update(created_run={"$ne": run_id}, updated_run={"$ne": run_id})
        upserts.append(UpdateOne(selector, [{"$replaceWith": bound}], upsert=True))
    return upserts


def _classify_written_before(
    store: Store, run_id: str, items: list[JobItem], outcome: ChunkOutcome, retry_raced: bool
) -> tuple[list[JobItem], list[JobItem]]:
    """Items whose upsert found a document of that ``_id`` it could not match: what this run
    created is new, what it updated is updated (in any delivery or fetch attempt). Returns the
    ones whose stored content is not this item's, and the ones another run wrote (a concurrent
    insert beat ours: they are written again when ``retry_raced``, else count as unchanged)."""
    docs = {
        doc["_id"]: doc
        for doc in store.jobs.find(
            {"_id": {"$in": [item.id for item in items]}},
            {"created_run": 1, "updated_run": 1, "content_hash": 1},
        )
    }
    changed: list[JobItem] = []
    raced: list[JobItem] = []
    for item in items:
        doc = docs.get(item.id) or {}
        if doc.get("created_run") == run_id:
            outcome.counts["new"] += 1
        elif doc.get("updated_run") == run_id:
            outcome.counts["updated"] += 1
        elif retry_raced:
            raced.append(item)
            continue
        else:
            outcome.counts["unchanged"] += 1
            continue
        if doc.get("content_hash") != item.content_hash:
            changed.append(item)
    return changed, raced


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
