"""The listing lifecycle on the store: chunks mark what they saw, a run's end expires what is gone.

These drive :func:`write_items` and :func:`lifecycle.finish_run` directly against MongoDB (the
stand-in, or MONGODB_URL), with the clock in the test's hands: every ``fetched_at`` and ``now``
is chosen here. tests/e2e/test_lifecycle.py runs the same through the workers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from job_importer import lifecycle
from job_importer.contract import JobItem, content_hash
from job_importer.db import Store
from job_importer.history import now
from services.importer.store import write_items

FEED = "http://feeds.test/catalog.xml"
T0 = now().replace(microsecond=0) - timedelta(days=30)


def job(number: int, title: str = "Engineer", expires_at: datetime | None = None) -> JobItem:
    fields: dict[str, Any] = {"title": f"{title} {number}", "company": "Acme", "expires_at": expires_at}
    return JobItem(
        id=f"src#{number}", source="src", guid=str(number), content_hash=content_hash(fields), **fields
    )


def run_doc(run_id: str, fetched_at: datetime, **policy: Any) -> dict[str, Any]:
    """A run as the fetcher leaves it for its end: a complete catalog fetch unless told otherwise."""
    lifecycle_fields = {
        "format": "jobxml",
        "expire_missing": True,
        "expire_after_days": None,
        "expire_max_fraction": 0.5,
        "fetched_at": fetched_at,
        "waiting": 0,
    }
    run = {"_id": run_id, "feed_url": FEED, "http_status": 200, "not_modified": False, "partial": False}
    for name in ("http_status", "not_modified", "partial", "chunks_dead"):
        if name in policy:
            run[name] = policy.pop(name)
    run["lifecycle"] = {**lifecycle_fields, **policy}
    return run


def import_run(
    store: Store,
    run_id: str,
    fetched_at: datetime,
    items: list[JobItem],
    clock: datetime | None = None,
    **policy: Any,
) -> tuple[dict[str, int], lifecycle.RunLifecycle]:
    counts = write_items(store, run_id, FEED, fetched_at, items).counts
    return dict(counts), lifecycle.finish_run(
        store, run_doc(run_id, fetched_at, **policy), clock or fetched_at
    )


def states(store: Store) -> dict[str, tuple[str, str | None]]:
    return {doc["_id"]: (doc["status"], doc.get("expired_reason")) for doc in store.jobs.find()}


def test_every_written_listing_is_active_and_seen_by_its_run(store: Store) -> None:
    import_run(store, "run-1", T0, [job(n) for n in range(3)])
    t1 = T0 + timedelta(hours=1)
    counts, _ = import_run(store, "run-2", t1, [job(0, "Lead"), job(1), job(2)])
    assert counts == {"updated": 1, "unchanged": 2}
    docs = {doc["_id"]: doc for doc in store.jobs.find()}
    assert {(d["status"], d["last_seen_run"], d["last_seen_at"]) for d in docs.values()} == {
        ("active", "run-2", t1)
    }
    assert docs["src#1"]["updated_run"] == "run-1"  # marked seen, not rewritten


def test_a_complete_catalog_fetch_expires_what_left_it(store: Store) -> None:
    import_run(store, "run-1", T0, [job(n) for n in range(4)])
    t1 = T0 + timedelta(hours=1)
    counts, ended = import_run(store, "run-2", t1, [job(0), job(1), job(2)], clock=t1 + timedelta(seconds=5))
    assert counts == {"unchanged": 3}
    assert (ended.expired, ended.reactivated, ended.active, ended.warning) == (1, 0, 3, None)
    gone = store.jobs.find_one({"_id": "src#3"})
    assert gone is not None
    assert (gone["status"], gone["expired_reason"], gone["expired_run"]) == (
        "expired",
        "missing from feed",
        "run-2",
    )
    assert gone["expired_at"] == t1 + timedelta(seconds=5) and gone["expired_fetch_at"] == t1
    # Idempotent: the end of the same run again (a redelivered last chunk) changes nothing.
    again = lifecycle.finish_run(store, run_doc("run-2", t1), t1 + timedelta(minutes=1))
    assert (again.expired, again.active) == (1, 3)
    assert store.jobs.find_one({"_id": "src#3"})["expired_at"] == t1 + timedelta(seconds=5)


def test_a_window_feed_expires_nothing_missing(store: Store) -> None:
    import_run(store, "run-1", T0, [job(n) for n in range(4)], expire_missing=False)
    _, ended = import_run(store, "run-2", T0 + timedelta(hours=1), [job(0)], expire_missing=False)
    assert ended.expired == 0
    assert set(states(store).values()) == {("active", None)}


def test_no_incomplete_fetch_expires_anything(store: Store) -> None:
    import_run(store, "run-1", T0, [job(n) for n in range(4)])
    t1 = T0 + timedelta(hours=1)
    cases: dict[str, dict[str, Any]] = {
        "not-modified": {"not_modified": True, "http_status": 304},
        "partial": {"partial": True},
        "dead-chunk": {"chunks_dead": [1]},
        "waiting": {"waiting": 2},
        "http-203": {"http_status": 203},
    }
    for name, case in cases.items():
        _, ended = import_run(store, f"run-{name}", t1, [job(0)], **case)
        assert ended.expired == 0, name
        if name == "not-modified":
            assert ended.warning is None  # the usual answer of an unchanged feed: nothing to say
        else:
            assert ended.warning is not None and ended.warning.startswith("no listing expired: "), name
    assert set(states(store).values()) == {("active", None)}


def test_the_guard_skips_a_mass_expiry_with_a_warning(store: Store) -> None:
    import_run(store, "run-1", T0, [job(n) for n in range(10)])
    _, empty = import_run(store, "run-2", T0 + timedelta(hours=1), [])
    assert empty.expired == 0
    assert empty.warning == (
        "expiry skipped: 10 of 10 active listings (100%) would expire (missing from feed), "
        "more than expire_max_fraction 0.5 allows"
    )
    _, six_gone = import_run(store, "run-3", T0 + timedelta(hours=2), [job(n) for n in range(4)])
    assert six_gone.expired == 0 and six_gone.warning is not None and "6 of 10" in six_gone.warning
    _, allowed = import_run(
        store, "run-4", T0 + timedelta(hours=3), [job(n) for n in range(4)], expire_max_fraction=0.7
    )
    assert (allowed.expired, allowed.active, allowed.warning) == (6, 4, None)


def test_a_listing_that_comes_back_is_reactivated_changed_or_not(store: Store) -> None:
    import_run(store, "run-1", T0, [job(n) for n in range(4)])
    import_run(store, "run-2", T0 + timedelta(hours=1), [job(0), job(1)])
    assert states(store)["src#2"] == states(store)["src#3"] == ("expired", "missing from feed")
    counts, ended = import_run(
        store, "run-3", T0 + timedelta(hours=2), [job(0), job(1), job(2), job(3, "Lead")]
    )
    assert counts == {"unchanged": 3, "updated": 1}  # reactivated ones count in their usual class too
    assert (ended.expired, ended.reactivated, ended.active) == (0, 2, 4)
    for key in ("src#2", "src#3"):
        doc = store.jobs.find_one({"_id": key})
        assert doc["status"] == "active" and doc["reactivated_run"] == "run-3"
        assert not set(lifecycle.EXPIRY_FIELDS) & set(doc), doc
    assert store.jobs.find_one({"_id": "src#3"})["title"] == "Lead 3"


def test_an_older_fetch_never_brings_back_what_a_newer_one_expired(store: Store) -> None:
    """Two runs of one feed overlapping: the newer fetch ended first and expired src#1."""
    import_run(store, "run-1", T0, [job(0), job(1), job(2)])
    older, newer = T0 + timedelta(hours=1), T0 + timedelta(hours=2)
    import_run(store, "run-new", newer, [job(0), job(2)])
    _, ended = import_run(store, "run-old", older, [job(0), job(1, "Edited"), job(2)])
    assert ended.expired == 0 and ended.reactivated == 0
    assert states(store)["src#1"] == ("expired", "missing from feed")
    assert store.jobs.find_one({"_id": "src#0"})["last_seen_run"] == "run-new"


def test_an_older_run_ending_late_expires_nothing_a_newer_fetch_saw(store: Store) -> None:
    import_run(store, "run-1", T0, [job(0), job(1)])
    older, newer = T0 + timedelta(hours=1), T0 + timedelta(hours=2)
    write_items(store, "run-old", FEED, older, [job(0)])  # its chunk is in, its end comes later
    import_run(store, "run-new", newer, [job(0), job(1)])
    ended = lifecycle.finish_run(store, run_doc("run-old", older), older)
    assert ended.expired == 0 and set(states(store).values()) == {("active", None)}


def test_a_listing_expires_when_its_own_expiry_date_passes(store: Store) -> None:
    t1 = T0 + timedelta(days=1)
    past, future = T0 + timedelta(hours=12), T0 + timedelta(days=10)
    items = [job(0, expires_at=past), job(1, expires_at=future), job(2)]
    counts, ended = import_run(store, "run-1", t1, items, expire_missing=False)
    assert counts == {"new": 3} and (ended.expired, ended.active) == (1, 2)
    assert states(store) == {
        "src#0": ("expired", "expiry date passed"),
        "src#1": ("active", None),
        "src#2": ("active", None),
    }
    # Still in the feed with the date passed: it stays expired, it is not brought back each run.
    _, again = import_run(store, "run-2", t1 + timedelta(hours=1), items, expire_missing=False)
    assert (again.expired, again.reactivated) == (0, 0)
    # Edited with the date still passed: rewritten, and still expired.
    edited = [job(0, "Lead", expires_at=past), *items[1:]]
    counts, still = import_run(
        store, "run-2b", t1 + timedelta(hours=1, minutes=30), edited, expire_missing=False
    )
    assert counts == {"updated": 1, "unchanged": 2} and (still.expired, still.reactivated) == (0, 0)
    assert states(store)["src#0"] == ("expired", "expiry date passed")
    assert store.jobs.find_one({"_id": "src#0"})["title"] == "Lead 0"
    # The date moved on in the source: a changed listing, active again.
    later = [job(0, expires_at=future), *items[1:]]
    counts, moved = import_run(store, "run-3", t1 + timedelta(hours=2), later, expire_missing=False)
    assert counts == {"updated": 1, "unchanged": 2} and moved.reactivated == 1
    assert states(store)["src#0"] == ("active", None)
    # Time passes (the clock is the test's): the future date is reached.
    _, reached = import_run(store, "run-4", future + timedelta(hours=1), later, expire_missing=False)
    assert reached.expired == 3 - 1  # src#0 and src#1 share that date


def test_expire_after_days_expires_what_was_not_seen_for_that_long(store: Store) -> None:
    window = {"expire_missing": False, "expire_after_days": 7}
    import_run(store, "run-1", T0, [job(0), job(1), job(2)], **window)
    _, day3 = import_run(store, "run-2", T0 + timedelta(days=3), [job(0)], **window)
    assert day3.expired == 0  # not seen for 3 days only
    _, day8 = import_run(store, "run-3", T0 + timedelta(days=8), [job(0), job(1)], **window)
    assert (day8.expired, day8.active) == (1, 2)
    assert states(store)["src#2"] == ("expired", "not seen for 7 days")


def test_listings_stored_before_the_lifecycle_are_active_until_a_complete_fetch_misses_them(
    store: Store,
) -> None:
    write_items(store, "run-0", FEED, T0, [job(0), job(1), job(2)])
    store.jobs.update_many({}, {"$unset": {"status": "", "last_seen_at": "", "last_seen_run": ""}})
    t1 = T0 + timedelta(hours=1)
    counts, ended = import_run(store, "run-1", t1, [job(0), job(1)])
    assert counts == {"unchanged": 2} and (ended.expired, ended.active) == (1, 2)
    assert states(store) == {
        "src#0": ("active", None),
        "src#1": ("active", None),
        "src#2": ("expired", "missing from feed"),
    }


def test_an_expiry_date_is_compared_on_the_fetchers_clock_and_without_a_zone_is_utc() -> None:
    fetched = T0 + timedelta(hours=1)
    assert lifecycle.date_passed(T0, fetched) and not lifecycle.date_passed(fetched, fetched)
    assert not lifecycle.date_passed(None, fetched)
    assert lifecycle.date_passed(T0.replace(tzinfo=None), fetched)
    assert not lifecycle.date_passed((fetched + timedelta(minutes=1)).replace(tzinfo=None), fetched)


def test_the_policy_defaults_by_format() -> None:
    from job_importer.settings import FeedConfig

    feed = FeedConfig(url=FEED)
    assert {reader: lifecycle.policy(feed, reader)["expire_missing"] for reader in ("rss", "jsonfeed", "json", None)} == {
        "rss": False, "jsonfeed": False, "json": False, None: False,
    }  # fmt: skip
    assert all(lifecycle.policy(feed, reader)["expire_missing"] for reader in lifecycle.CATALOG_FORMATS)
    assert lifecycle.policy(FeedConfig(url=FEED, expire_missing=True), "rss")["expire_missing"] is True
    assert lifecycle.policy(FeedConfig(url=FEED, expire_missing=False), "jobxml")["expire_missing"] is False
