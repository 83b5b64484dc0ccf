"""Classifying and writing chunks against MongoDB (the stand-in, or MONGODB_URL)."""

from __future__ import annotations

import threading
from datetime import timedelta

from job_importer.contract import JobItem, content_hash
from job_importer.history import now
from services.importer.store import write_items


def item(number: int, title: str = "Engineer") -> JobItem:
    fields = {"title": f"{title} {number}", "company": "Acme"}
    return JobItem(
        id=f"src#{number}", source="src", guid=str(number), content_hash=content_hash(fields), **fields
    )


def test_new_then_unchanged_then_updated(store) -> None:
    fetched = now()
    first = write_items(store, "run-1", "http://f", fetched, [item(n) for n in range(5)])
    assert first.counts == {"new": 5}
    second = write_items(
        store, "run-2", "http://f", fetched + timedelta(seconds=1), [item(n) for n in range(5)]
    )
    assert second.counts == {"unchanged": 5}
    changed = [item(0, "Lead"), item(1), item(2, "Lead"), item(3), item(4), item(5)]
    third = write_items(store, "run-3", "http://f", fetched + timedelta(seconds=2), changed)
    assert third.counts == {"updated": 2, "unchanged": 3, "new": 1}
    doc = store.jobs.find_one({"_id": "src#2"})
    assert doc["title"] == "Lead 2" and doc["created_run"] == "run-1" and doc["updated_run"] == "run-3"
    assert store.jobs.count_documents({}) == 6


def test_a_redelivered_chunk_keeps_its_outcome_and_writes_nothing_twice(store) -> None:
    fetched = now()
    write_items(store, "run-1", "http://f", fetched, [item(1), item(2)])
    chunk = [item(1, "Changed"), item(2), item(3)]
    first = write_items(store, "run-2", "http://f", fetched + timedelta(seconds=1), chunk)
    replay = write_items(store, "run-2", "http://f", fetched + timedelta(seconds=1), chunk)
    assert first.counts == replay.counts == {"updated": 1, "unchanged": 1, "new": 1}
    assert store.jobs.count_documents({}) == 3


def test_an_older_fetch_never_overwrites_newer_content(store) -> None:
    fetched = now()
    write_items(store, "run-new", "http://f", fetched, [item(1, "Newer")])
    late = write_items(store, "run-old", "http://f", fetched - timedelta(minutes=5), [item(1, "Older")])
    assert late.counts == {"unchanged": 1}
    assert store.jobs.find_one({"_id": "src#1"})["title"] == "Newer 1"


def test_a_later_fetch_attempt_of_the_same_run_writes_its_changed_content(store) -> None:
    fetched = now()
    first = write_items(store, "run-1", "http://f", fetched, [item(1), item(2)])
    retried = [item(1, "Changed"), item(2)]  # the run's fetch was retried and the feed had changed
    second = write_items(store, "run-1", "http://f", fetched + timedelta(seconds=1), retried)
    assert first.counts == second.counts == {"new": 2}  # created by this run, whichever attempt
    assert store.jobs.find_one({"_id": "src#1"})["title"] == "Changed 1"
    assert store.jobs.find_one({"_id": "src#2"})["title"] == "Engineer 2"


def test_two_runs_writing_the_same_new_items_at_once_count_each_item_once(store) -> None:
    """Overlapping runs: whichever insert wins, the newer fetch's content ends up stored and each
    run counts every item exactly once (a lost insert race is written again, not miscounted)."""
    fetched = now()
    count = 300
    outcomes = {}

    def write(run: str, title: str, at) -> None:
        outcomes[run] = write_items(store, run, "http://f", at, [item(n, title) for n in range(count)])

    older = threading.Thread(target=write, args=("run-old", "Old", fetched))
    newer = threading.Thread(target=write, args=("run-new", "New", fetched + timedelta(seconds=1)))
    for thread in (older, newer):
        thread.start()
    for thread in (older, newer):
        thread.join()
    old, new = outcomes["run-old"].counts, outcomes["run-new"].counts
    assert old["new"] + new["new"] == count
    assert old["new"] + old["unchanged"] == count and new["new"] + new["updated"] == count
    assert store.jobs.count_documents({"title": {"$regex": "^New "}}) == count
