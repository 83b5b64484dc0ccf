"""Listing lifecycle: a listing expires when it leaves its feed, and comes back when it reappears.

Every job document has a ``status``, ``"active"`` or ``"expired"``, and ``last_seen_at`` /
``last_seen_run``: the start of the newest fetch that saw it, and that run. An expired one also
has ``expired_at``, ``expired_reason`` (:data:`MISSING`, :data:`DATE_PASSED` or "not seen for N
days"), ``expired_run`` and ``expired_fetch_at`` (the start of the fetch that expired it).

Why "missing" needs care: an RSS/Atom feed is usually a window of its latest items, so an item
that left it says nothing, while job-board XML and the ATS APIs are whole catalogs, where it
means the job closed. So ``expire_missing`` defaults by format (:func:`policy`); a window feed
may use ``expire_after_days`` instead; a listing's own expiry date always applies.

When, so that a bad fetch never wipes a feed: only at the end of a run (:func:`finish_run`,
called once every chunk is accounted for, before the run is marked completed) and only for a
complete fetch: HTTP 200, read to its end without a warning (not recovered from malformed XML,
no API that stopped early), nothing dead-lettered, no item left to another run's chunk still
waiting in the queue. A 304, a partial or a failed run expires nothing. The
mass-expiry guard skips it, with a warning on the run, when more than ``expire_max_fraction`` of
the feed's active listings would go at once (a feed that suddenly serves nothing).

Time is compared on one clock only, the fetcher's: ``last_seen_at`` is the ``fetched_at`` of the
fetch that saw the listing (never the importer's wall time), a run expires what was last seen
before its own ``fetched_at``, and an expiry date is checked against it too. ``expired_at`` alone
is the wall time of the expiry. That
also makes overlapping runs of one feed safe: what a newer fetch saw is never expired by an
older one, and a chunk of an older fetch never brings back what a newer fetch expired (its
``fetched_at`` is not after ``expired_fetch_at``).

Every step is idempotent, so a run completed again after a kill -9 (a redelivered last chunk)
ends with the same documents and counts: the updates match only what is still active, and the
counts are read back by run id (``expired_run`` / ``reactivated_run``), not added up.

Cost: marking the unchanged items of a chunk as seen is one more bulk write per chunk (two
operations, none for a chunk that is all new or updated, since the upsert that writes an item
marks it); expiry is a handful of round trips per run, on indexed fields (:func:`job_importer.db.ensure_indexes`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import UpdateMany

from job_importer.db import Store
from job_importer.settings import FeedConfig

ACTIVE = "active"
EXPIRED = "expired"
MISSING = "missing from feed"
DATE_PASSED = "expiry date passed"
#: The fields an expired listing has and a reactivated one loses.
EXPIRY_FIELDS = ("expired_at", "expired_reason", "expired_run", "expired_fetch_at")
#: Formats that serve a whole catalog, where an absent listing is a closed one.
CATALOG_FORMATS = frozenset(
    {"jobxml", "xml", "greenhouse", "lever", "ashby", "smartrecruiters", "recruitee", "workable"}
)
#: Matches a listing that counts as active: documents stored before the lifecycle have no status.
STILL_ACTIVE: dict[str, Any] = {"status": {"$in": [ACTIVE, None]}}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def before(moment: datetime) -> dict[str, Any]:
    """A query for dates before ``moment``. The type is spelt out: MongoDB compares only values of
    one type (a null is never before a date), but the stand-in's ``$lt`` also matches nulls."""
    return {"$type": "date", "$lt": moment}


def not_seen_reason(days: int) -> str:
    return f"not seen for {days} day{'s' if days != 1 else ''}"


def policy(feed: FeedConfig, reader: str | None) -> dict[str, Any]:
    """The feed's expiry policy for a run that read its document as ``reader`` (None: no document)."""
    expire_missing = feed.expire_missing
    if expire_missing is None:
        expire_missing = reader in CATALOG_FORMATS
    return {
        "format": reader,
        "expire_missing": expire_missing,
        "expire_after_days": feed.expire_after_days,
        "expire_max_fraction": feed.expire_max_fraction,
    }


# Marking what a chunk saw ------------------------------------------------------------------------


def seen_fields(run_id: str, fetched_at: datetime) -> dict[str, Any]:
    """What a write by the newest fetch to see a listing sets (an aggregation expression)."""
    newest = {"$gte": [fetched_at, {"$ifNull": ["$last_seen_at", _EPOCH]}]}
    return {
        "$cond": [
            newest,
            {"$literal": {"last_seen_at": fetched_at, "last_seen_run": run_id}},
            {},  # a delayed chunk of an older fetch: the newer sighting stays
        ]
    }


def _expired_before(fetched_at: datetime) -> list[dict[str, Any]]:
    """Conditions: the listing is expired, by an older fetch than this one."""
    return [
        {"$eq": ["$status", EXPIRED]},
        {"$lt": [{"$ifNull": ["$expired_fetch_at", _EPOCH]}, fetched_at]},
    ]


def reactivates(fetched_at: datetime, expires_at: Any) -> dict[str, Any]:
    """Whether a sighting brings an expired listing back: it was expired by an older fetch than
    this one, and its own expiry date (``expires_at``: an expression) had not passed when this
    fetch started."""
    passed = {"$and": [{"$eq": [{"$type": expires_at}, "date"]}, {"$lt": [expires_at, fetched_at]}]}
    return {"$and": [*_expired_before(fetched_at), {"$eq": [passed, False]}]}


def date_passed(expires_at: datetime | None, fetched_at: datetime) -> bool:
    """Whether a listing's own expiry date had passed when the fetch started (one clock: the
    fetcher's). A date without a zone is UTC, as BSON stores it."""
    if expires_at is None:
        return False
    return (expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC)) < fetched_at


def without_expiry() -> dict[str, Any]:
    """The current document without its expiry fields (``$$ROOT`` reactivated)."""
    return {
        "$arrayToObject": {
            "$filter": {
                "input": {"$objectToArray": "$$ROOT"},
                "cond": {"$eq": [{"$in": ["$$this.k", list(EXPIRY_FIELDS)]}, False]},
            }
        }
    }


def merged_with_lifecycle(
    parts: list[Any], *, run_id: str, fetched_at: datetime, now: datetime, expiry_passed: bool
) -> dict[str, Any]:
    """The document an upsert writes, from ``parts`` (merged in order; ``"$$ROOT"`` among them is
    the stored document), with its lifecycle fields: seen by this run, and active again unless it
    stays expired (``expiry_passed``: its own date passed, see :func:`date_passed`; or a newer
    fetch expired it).

    The same expression serves every item of a chunk (the item itself is among ``parts`` as a
    variable), and it is kept small: MongoDB evaluates it for each item, and its size is paid
    once per item in every update command."""
    seen = seen_fields(run_id, fetched_at)
    stays = {"status": {"$ifNull": ["$status", ACTIVE]}}
    if expiry_passed:  # never brought back: an expired listing stays expired
        return {"$mergeObjects": [*parts, seen, stays]}
    back = {"$and": _expired_before(fetched_at)}
    revived = {"$cond": [back, without_expiry(), "$$ROOT"]}
    status = {
        "$cond": [
            back,
            {"$literal": {"status": ACTIVE, "reactivated_run": run_id, "reactivated_at": now}},
            stays,
        ]
    }
    return {"$mergeObjects": [*(revived if part == "$$ROOT" else part for part in parts), seen, status]}


def seen_updates(
    ids: list[str], run_id: str, feed_url: str, fetched_at: datetime, now: datetime
) -> list[UpdateMany]:
    """Mark the listings a chunk saw but did not rewrite (unchanged ones) as seen by this run:
    active ones by a plain update, expired ones by a pipeline that reactivates them when
    :func:`reactivates` says so. ``feed_url`` follows the feed that saw it last."""
    not_yet = {"$or": [{"last_seen_at": before(fetched_at)}, {"last_seen_at": None}]}
    seen = {"last_seen_at": fetched_at, "last_seen_run": run_id, "feed_url": feed_url}
    back = {"$literal": {**seen, "status": ACTIVE, "reactivated_run": run_id, "reactivated_at": now}}
    return [
        UpdateMany(
            {"_id": {"$in": ids}, "status": {"$ne": EXPIRED}, **not_yet}, {"$set": {**seen, "status": ACTIVE}}
        ),
        UpdateMany(
            {"_id": {"$in": ids}, "status": EXPIRED},
            [
                {
                    "$replaceWith": {
                        "$cond": [
                            reactivates(fetched_at, "$expires_at"),
                            {"$mergeObjects": [without_expiry(), back]},
                            {"$mergeObjects": ["$$ROOT", seen_fields(run_id, fetched_at)]},
                        ]
                    }
                }
            ],
        ),
    ]


# Expiring at the end of a run -------------------------------------------------------------------


@dataclass
class RunLifecycle:
    """What a run's end did to its feed's listings: recorded on the run with its completion."""

    expired: int = 0
    reactivated: int = 0
    active: int | None = None  # the feed's active listings after it (None: not counted)
    warning: str | None = None

    def fields(self) -> dict[str, Any]:
        return {"expired": self.expired, "reactivated": self.reactivated, "active_listings": self.active}


def incomplete_reason(run: Mapping[str, Any]) -> str | None:
    """Why this run's fetch may not expire listings (None: it may)."""
    lifecycle = run.get("lifecycle") or {}
    if run.get("not_modified"):
        return "the feed was not modified (304)"
    if run.get("partial"):
        return "the download broke off (partial)"
    if run.get("http_status") != 200:
        return f"HTTP {run.get('http_status')}"
    if run.get("chunks_dead"):
        return f"{len(run['chunks_dead'])} chunk(s) dead-lettered"
    if lifecycle.get("read_warning"):
        return "the document was not read cleanly (see the warning)"
    if lifecycle.get("waiting"):
        return f"{lifecycle['waiting']} item(s) were still waiting in the queue from another run"
    if lifecycle.get("fetched_at") is None:
        return "the run has no fetch time"
    return None


def finish_run(store: Store, run: Mapping[str, Any], now: datetime) -> RunLifecycle:
    """Expire what this run's fetch says is gone, then count what it expired and brought back.
    Idempotent: safe to repeat for a run whose completion was interrupted."""
    run_id, feed_url = run["_id"], run.get("feed_url")
    lifecycle = run.get("lifecycle") or {}
    outcome = RunLifecycle()
    why = incomplete_reason(run)
    rule = _rule(lifecycle)
    if why is None and lifecycle:
        feed = {"feed_url": feed_url, **STILL_ACTIVE}
        passed = {"expires_at": before(lifecycle["fetched_at"])}
        _expire(store, {**feed, **passed}, run_id, DATE_PASSED, lifecycle, now)
        if rule is not None:
            query, reason = rule
            outcome.warning = _expire_guarded(store, {**feed, **query}, run_id, reason, lifecycle, now)
    elif why is not None and rule is not None and not run.get("not_modified"):  # a 304 is the usual case
        outcome.warning = f"no listing expired: {why}"
    outcome.expired = store.jobs.count_documents({"expired_run": run_id})
    outcome.reactivated = store.jobs.count_documents({"reactivated_run": run_id})
    if feed_url is not None:
        outcome.active = store.jobs.count_documents({"feed_url": feed_url, **STILL_ACTIVE})
    return outcome


def _rule(lifecycle: Mapping[str, Any]) -> tuple[dict[str, Any], str] | None:
    """The policy's "no longer there" rule, if it has one: a query over the feed's active
    listings, and the reason it gives. Missing from a catalog wins over not seen for N days."""
    fetched_at = lifecycle.get("fetched_at")
    if fetched_at is None:
        return None
    if lifecycle.get("expire_missing"):
        return _last_seen_before(fetched_at), MISSING
    days = lifecycle.get("expire_after_days")
    if days:
        return _last_seen_before(fetched_at - timedelta(days=days)), not_seen_reason(days)
    return None


def _last_seen_before(moment: datetime) -> dict[str, Any]:
    """Listings last seen before ``moment``; one stored before the lifecycle, by its content's fetch."""
    return {
        "$or": [
            {"last_seen_at": before(moment)},
            {"last_seen_at": None, "fetched_at": before(moment)},
        ]
    }


def _expire_guarded(
    store: Store, query: dict[str, Any], run_id: str, reason: str, lifecycle: Mapping[str, Any], now: datetime
) -> str | None:
    """Expire what ``query`` matches, unless that is more of the feed than the guard allows."""
    going = store.jobs.count_documents(query)
    if not going:
        return None
    active = store.jobs.count_documents({"feed_url": query["feed_url"], **STILL_ACTIVE})
    fraction = float(lifecycle.get("expire_max_fraction") or 0.5)
    if going > fraction * active:
        return (
            f"expiry skipped: {going} of {active} active listings ({going / active:.0%}) would expire "
            f"({reason}), more than expire_max_fraction {fraction:g} allows"
        )
    _expire(store, query, run_id, reason, lifecycle, now)
    return None


def _expire(
    store: Store, query: dict[str, Any], run_id: str, reason: str, lifecycle: Mapping[str, Any], now: datetime
) -> None:
    store.jobs.update_many(
        query,
        {
            "$set": {
                "status": EXPIRED,
                "expired_at": now,
                "expired_reason": reason,
                "expired_run": run_id,
                "expired_fetch_at": lifecycle["fetched_at"],
            }
        },
    )


def status_filter(status: str) -> dict[str, Any]:
    """The jobs query of a status filter: ``active`` (the default of lists), ``expired`` or ``all``."""
    if status == "all":
        return {}
    return {"status": EXPIRED} if status == EXPIRED else dict(STILL_ACTIVE)
