"""Import history: one record per feed per run, kept exact under retries and redeliveries.

Counting rules (the invariant ``fetched = new + updated + unchanged + duplicates + failed``; a run's
``expired`` and ``reactivated``, set when it completes by :mod:`job_importer.lifecycle`, are beside
it: a reactivated listing also counts as updated or unchanged):

* the fetcher sets ``fetched`` and ``duplicates`` and adds its own failures (items without an
  identity, invalid fields) once, guarded by the run's status;
* the importer adds each chunk's outcome once, guarded by the chunk's ``seq`` in ``chunks_done``,
  so a redelivered chunk is never counted twice;
* a dead-lettered chunk counts all its items as failed until it is requeued and succeeds;
* a fetch that runs again (its worker died, or it failed after sending some chunks) starts a new
  attempt: the counts start over and only chunks of the current attempt count. The feed may have
  changed in between, so an earlier attempt's chunks need not match the new ones (they are still
  written: the store keeps whichever content was fetched last).

A run completes when every chunk is accounted for (done or dead), which the last writer notices;
it then ends the lifecycle of what left the feed, before it is marked completed.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pymongo import DESCENDING, ReturnDocument

from job_importer import feed_registry, lifecycle, metrics
from job_importer.db import Store
from job_importer.redact import redact
from job_importer.settings import FeedConfig

Trigger = Literal["schedule", "cli", "api"]
Status = Literal["queued", "fetching", "importing", "completed", "failed"]
TERMINAL: tuple[Status, ...] = ("completed", "failed")
OUTCOMES = ("new", "updated", "unchanged", "failed")
#: A run's counts, as every front end shows them: the invariant's, then the lifecycle's.
RUN_COUNTS = ("fetched", "new", "updated", "unchanged", "duplicates", "failed", "expired", "reactivated")
log = logging.getLogger(__name__)


def now() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str = "") -> str:
    """A sortable, unique id: UTC timestamp plus randomness."""
    return f"{prefix}{now():%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"


def _fresh_attempt() -> dict[str, Any]:
    """What a new fetch attempt starts from (and a new run): the importer's counts of an earlier
    attempt no longer apply."""
    return {
        **dict.fromkeys(("imported", *RUN_COUNTS), 0),
        "failures": [],
        "chunks_total": None,
        "chunks_accounted": 0,
        "chunks_done": [],
        "chunks_dead": [],
    }


def create_runs(store: Store, feeds: Iterable[FeedConfig], trigger: Trigger, batch_id: str) -> list[str]:
    """Insert one queued run per feed and return their ids."""
    created = now()
    docs: list[dict[str, Any]] = [
        {
            "_id": new_id(),
            "batch_id": batch_id,
            "feed_url": redact(feed.url),  # the run is history: no credentials
            "source": feed.source,
            "trigger": trigger,
            "status": "queued",
            "created_at": created,
            "active_at": created,  # moved on by every step of the run (see stranded.py)
            # started_at is left out so that start_fetch's $min sets it on the first attempt only.
            "finished_at": None,
            "duration_ms": None,
            "http_status": None,
            "not_modified": False,
            "error": None,
            **_fresh_attempt(),
            "fetch_attempts": 0,
        }
        for feed in feeds
    ]
    if docs:
        store.runs.insert_many(docs)
    return [str(doc["_id"]) for doc in docs]


def start_fetch(store: Store, run_id: str, *, reopen_failed: bool = False) -> dict[str, Any] | None:
    """Start a fetch attempt (``fetch_attempts`` is its number); None when the run is past fetching
    (a redelivered fetch).

    ``reopen_failed`` (a fetch requeued from the dead letters) also restarts a run that failed
    before it sent any chunk.
    """
    may_start: dict[str, Any] = {"status": {"$in": ["queued", "fetching"]}}
    if reopen_failed:
        may_start = {"$or": [may_start, {"status": "failed", "chunks_total": None}]}
    return store.runs.find_one_and_update(
        {"_id": run_id, **may_start},
        {
            "$set": {
                "status": "fetching",
                "error": None,
                "finished_at": None,
                "duration_ms": None,
                "active_at": now(),
                **_fresh_attempt(),
            },
            "$min": {"started_at": now()},
            "$inc": {"fetch_attempts": 1},
        },
        return_document=ReturnDocument.AFTER,
        projection={"chunks_done": 0, "failures": 0},
    )


def _attempt_filter(attempt: int | None) -> dict[str, Any]:
    """Match only the given fetch attempt (None: any, for messages sent before attempts were numbered)."""
    return {} if attempt is None else {"fetch_attempts": attempt}


def finish_fetch(
    store: Store,
    run_id: str,
    *,
    http_status: int | None,
    fetched: int,
    duplicates: int,
    failures: list[dict[str, Any]],
    chunks_total: int,
    failures_cap: int,
    attempt: int | None = None,
    not_modified: bool = False,
    warning: str | None = None,
    partial: bool = False,
    lifecycle: dict[str, Any] | None = None,
) -> bool:
    """Record what the fetcher found and how many chunks it sent; the importer takes it from here.

    ``partial``: the download broke off and only the items read before the break were sent.
    ``lifecycle``: the feed's expiry policy and the fetch's start, for the run's end
    (:func:`job_importer.lifecycle.finish_run`).

    Only the current attempt may finish the fetch: a stale one (a worker that froze and came back
    after its message was redelivered) must not set counts that the chunks it sent won't meet.
    Returns whether this attempt finished it.
    """
    doc = store.runs.find_one_and_update(
        {"_id": run_id, "status": {"$in": ["queued", "fetching"]}, **_attempt_filter(attempt)},
        {
            "$set": {
                "status": "importing",
                "active_at": now(),
                "http_status": http_status,
                "not_modified": not_modified,
                "fetched": fetched,
                "duplicates": duplicates,
                "chunks_total": chunks_total,
                "warning": warning,
                "partial": partial,
                "lifecycle": lifecycle,
            },
            "$inc": {"failed": len(failures)},
            "$push": {"failures": {"$each": failures[:failures_cap], "$slice": failures_cap}},
        },
        return_document=ReturnDocument.AFTER,
        projection=_COMPLETION_FIELDS,
    )
    if doc is None:
        complete_if_done(store, run_id)
        return False
    _complete(store, doc)  # all chunks may be written already (or there were none)
    return True


def fail_run(store: Store, run_id: str, reason: str, http_status: int | None = None) -> None:
    """A feed-level failure: nothing was imported from this run."""
    finished = now()
    doc = store.runs.find_one_and_update(
        {"_id": run_id, "status": {"$in": ["queued", "fetching"]}},
        {
            "$set": {
                "status": "failed",
                "error": redact(reason),
                "http_status": http_status,
                "finished_at": finished,
            }
        },
        return_document=ReturnDocument.AFTER,
        projection={"started_at": 1, "created_at": 1, "feed_url": 1, "fetched": 1, "failed": 1},
    )
    if doc:
        duration_s = _set_duration(store, doc, finished)
        metrics.run_finished(doc.get("feed_url"), "failed", duration_s)
        feed_registry.record_run_end(store, doc, "failed", finished, error=redact(reason))
        log_outcome(doc, "failed", int(duration_s * 1000) if duration_s is not None else None, redact(reason))


def abandon_run(store: Store, run_id: str, reason: str, *, quiet_since: datetime) -> bool:
    """Fail an unfinished run that has not moved since ``quiet_since`` (it cannot complete: see
    :mod:`job_importer.stranded`). False when it finished or moved meanwhile."""
    finished = now()
    doc = store.runs.find_one_and_update(
        {
            "_id": run_id,
            "status": {"$in": ["queued", "fetching", "importing"]},
            **quiet_filter(quiet_since),
        },
        {"$set": {"status": "failed", "error": redact(reason), "finished_at": finished}},
        return_document=ReturnDocument.AFTER,
        projection={"started_at": 1, "created_at": 1, "feed_url": 1},
    )
    if doc:
        metrics.run_finished(doc.get("feed_url"), "failed", _set_duration(store, doc, finished))
        feed_registry.record_run_end(store, doc, "failed", finished, error=redact(reason))
    return doc is not None


def quiet_filter(since: datetime) -> dict[str, Any]:
    """Runs that have not moved since ``since`` (runs from before ``active_at``: by creation)."""
    return {"$or": [{"active_at": {"$lt": since}}, {"active_at": None, "created_at": {"$lt": since}}]}


def record_chunk(
    store: Store,
    run_id: str,
    seq: int,
    counts: Mapping[str, int],
    failures: list[dict[str, Any]],
    *,
    failures_cap: int,
    attempt: int | None = None,
    was_dead: int | None = None,
) -> bool:
    """Add one chunk's outcome to its run, once. Returns False when the chunk was counted before
    (or belongs to an earlier fetch attempt).

    ``was_dead`` is the item count of a chunk that is back from the dead-letter queue: its
    earlier "all failed" entry is taken out first.
    """
    if was_dead is not None:
        store.runs.update_one(
            {"_id": run_id, "chunks_dead": seq, **_attempt_filter(attempt)},
            {"$pull": {"chunks_dead": seq}, "$inc": {"failed": -was_dead, "chunks_accounted": -1}},
        )
    increments = {name: int(counts.get(name, 0)) for name in OUTCOMES}
    increments["imported"] = increments["new"] + increments["updated"]
    increments["chunks_accounted"] = 1
    doc = store.runs.find_one_and_update(
        {"_id": run_id, "chunks_done": {"$ne": seq}, **_attempt_filter(attempt)},
        {
            "$inc": increments,
            "$set": {"active_at": now()},
            "$push": {
                "chunks_done": seq,
                "failures": {"$each": failures[:failures_cap], "$slice": failures_cap},
            },
        },
        return_document=ReturnDocument.AFTER,
        projection=_COMPLETION_FIELDS,
    )
    if doc is None:
        # Counted before; but the reply to that update may have been lost before the run could be
        # completed (MongoDB unreachable just then), so check completion on every delivery.
        complete_if_done(store, run_id)
        return False
    _complete(store, doc)
    return True


def record_dead_chunk(
    store: Store,
    run_id: str,
    seq: int,
    items: int,
    reason: str,
    *,
    failures_cap: int,
    attempt: int | None = None,
) -> bool:
    """Account for a chunk that ended in the dead-letter queue: its items count as failed."""
    failure = {"guid": None, "reason": f"chunk {seq} ({items} items) dead-lettered: {reason}"}
    doc = store.runs.find_one_and_update(
        {
            "_id": run_id,
            "chunks_done": {"$ne": seq},
            "chunks_dead": {"$ne": seq},
            **_attempt_filter(attempt),
        },
        {
            "$inc": {"failed": items, "chunks_accounted": 1},
            "$set": {"active_at": now()},
            "$push": {"chunks_dead": seq, "failures": {"$each": [failure], "$slice": failures_cap}},
        },
        return_document=ReturnDocument.AFTER,
        projection=_COMPLETION_FIELDS,
    )
    if doc is None:
        complete_if_done(store, run_id)
        return False
    _complete(store, doc)
    return True


_COMPLETION_FIELDS = {
    "status": 1, "chunks_total": 1, "chunks_accounted": 1, "started_at": 1, "created_at": 1, "feed_url": 1,
    "http_status": 1, "not_modified": 1, "partial": 1, "chunks_dead": 1, "lifecycle": 1, "warning": 1,
    **dict.fromkeys(("fetched", "new", "updated", "unchanged", "duplicates", "failed"), 1),
}  # fmt: skip


def complete_if_done(store: Store, run_id: str) -> None:
    doc = store.runs.find_one({"_id": run_id}, _COMPLETION_FIELDS)
    if doc:
        _complete(store, doc)


def _complete(store: Store, doc: Mapping[str, Any]) -> None:
    total = doc.get("chunks_total")
    if doc.get("status") != "importing" or total is None or doc.get("chunks_accounted", 0) < total:
        return
    # Every chunk is in: what left the feed expires now, before the run says it is done, so that
    # a death in between leaves a run that the next delivery completes (this step is idempotent).
    ended = lifecycle.finish_run(store, doc, now())
    finished = now()
    started = doc.get("started_at") or doc.get("created_at")
    duration_s = (finished - started).total_seconds() if started is not None else None
    done: dict[str, Any] = {"status": "completed", "finished_at": finished, **ended.fields()}
    if duration_s is not None:
        done["duration_ms"] = int(duration_s * 1000)
    if ended.warning:
        done["warning"] = f"{doc['warning']}; {ended.warning}" if doc.get("warning") else ended.warning
    result = store.runs.update_one({"_id": doc["_id"], "status": "importing"}, {"$set": done})
    if result.modified_count:
        metrics.run_finished(doc.get("feed_url"), "completed", duration_s)
        metrics.listings_changed(doc.get("feed_url"), ended.expired, ended.reactivated, ended.active)
        feed_registry.record_run_end(store, doc, "completed", finished, active_listings=ended.active)
        log_outcome({**doc, **done}, "completed", done.get("duration_ms"))


def log_outcome(
    doc: Mapping[str, Any], status: str, duration_ms: int | None, error: str | None = None
) -> None:
    """The one line a run's end leaves in the log: feed, counts, duration (and why, if it failed)."""
    counts = {name: int(doc.get(name) or 0) for name in RUN_SUMMARY_FIELDS[2:]}
    took = f"{duration_ms} ms" if duration_ms is not None else "unknown time"
    why = f": {error}" if error else ""
    log.info(
        "run %s %s%s: %s; %s in %s",
        doc["_id"], status, why, doc.get("feed_url"), ", ".join(f"{k} {v}" for k, v in counts.items()), took,
        extra={"run_id": doc["_id"], "feed": doc.get("feed_url"), "status": status, "duration_ms": duration_ms,
               "error": error, **counts},
    )  # fmt: skip


def _set_duration(store: Store, doc: Mapping[str, Any], finished: datetime) -> float | None:
    """Store the run's duration; returns it in seconds."""
    started = doc.get("started_at") or doc.get("created_at")
    if started is None:
        return None
    duration = int((finished - started).total_seconds() * 1000)
    store.runs.update_one({"_id": doc["_id"]}, {"$set": {"duration_ms": duration}})
    return duration / 1000


# Reading ------------------------------------------------------------------------------------

RUN_SUMMARY_FIELDS = ("feed", "status", *RUN_COUNTS)


def get_run(store: Store, run_id: str) -> dict[str, Any] | None:
    return store.runs.find_one({"_id": run_id}, {"chunks_done": 0})


def list_runs(
    store: Store,
    *,
    limit: int = 20,
    skip: int = 0,
    feed_url: str | None = None,
    status: str | None = None,
    batch_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """Runs, newest first, without their failure lists."""
    return list(
        store.runs.find(
            run_filter(feed_url=feed_url, status=status, batch_id=batch_id, since=since, until=until),
            {"chunks_done": 0, "failures": 0, "chunks_dead": 0},
        )
        .sort("created_at", DESCENDING)
        .skip(skip)
        .limit(limit)
    )


def run_filter(
    *,
    feed_url: str | None = None,
    status: str | None = None,
    batch_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if feed_url:
        query["feed_url"] = redact(feed_url)
    if status:
        query["status"] = status
    if batch_id:
        query["batch_id"] = batch_id
    if since or until:
        query["created_at"] = {
            **({"$gte": since} if since else {}),
            **({"$lt": until} if until else {}),
        }
    return query


def summarize(runs: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The JSON summary of a batch: one entry per feed run plus totals."""
    rows = [
        {
            "run_id": run["_id"],
            "feed": run["feed_url"],
            "status": run["status"],
            "http_status": run.get("http_status"),
            "not_modified": run.get("not_modified", False),
            "partial": run.get("partial", False),  # the download broke off: only what came was sent
            "error": run.get("error"),
            "warning": run.get("warning"),  # a malformed feed parsed anyway, say
            "duration_ms": run.get("duration_ms"),
            **{name: run.get(name, 0) for name in RUN_SUMMARY_FIELDS[2:]},
        }
        for run in runs
    ]
    totals = {name: sum(row[name] for row in rows) for name in RUN_SUMMARY_FIELDS[2:]}
    return {"runs": rows, "totals": totals}


def cleanup(store: Store, older_than: timedelta) -> dict[str, int]:
    """Delete finished runs and failed items older than ``older_than``."""
    cutoff = now() - older_than
    runs = store.runs.delete_many({"created_at": {"$lt": cutoff}, "status": {"$in": list(TERMINAL)}})
    items = store.failed_items.delete_many({"created_at": {"$lt": cutoff}})
    return {"runs": runs.deleted_count, "failed_items": items.deleted_count}
