"""Run records: exact counts under repeats, dead chunks, and completion."""

from __future__ import annotations

from job_importer import history
from job_importer.settings import FeedConfig

FEED = FeedConfig(url="http://feeds.example/a.xml")


def new_run(store) -> str:
    [run_id] = history.create_runs(store, [FEED], "cli", "batch-1")
    assert history.start_fetch(store, run_id) is not None
    return run_id


def finish(store, run_id: str, chunks: int, fetched: int, failures: int = 0) -> None:
    history.finish_fetch(
        store, run_id, http_status=200, fetched=fetched, duplicates=0,
        failures=[{"guid": None, "reason": "bad"}] * failures, chunks_total=chunks, failures_cap=10,
    )  # fmt: skip


def test_completes_when_the_last_chunk_lands_even_before_the_fetch_finishes(store) -> None:
    run_id = new_run(store)
    assert history.record_chunk(store, run_id, 0, {"new": 3}, [], failures_cap=10)
    assert history.get_run(store, run_id)["status"] == "fetching"
    assert history.record_chunk(store, run_id, 1, {"new": 1, "unchanged": 1}, [], failures_cap=10)
    finish(store, run_id, chunks=2, fetched=6, failures=1)
    run = history.get_run(store, run_id)
    assert run["status"] == "completed" and run["duration_ms"] is not None
    assert (run["new"], run["unchanged"], run["failed"], run["imported"]) == (4, 1, 1, 4)


def test_a_chunk_counted_twice_counts_once(store) -> None:
    run_id = new_run(store)
    finish(store, run_id, chunks=2, fetched=4)
    assert history.record_chunk(store, run_id, 0, {"new": 2}, [], failures_cap=10)
    assert not history.record_chunk(store, run_id, 0, {"new": 2}, [], failures_cap=10)
    run = history.get_run(store, run_id)
    assert run["new"] == 2 and run["status"] == "importing"


def test_a_dead_chunk_completes_the_run_as_failed_items_until_requeued(store) -> None:
    run_id = new_run(store)
    finish(store, run_id, chunks=2, fetched=5)
    history.record_chunk(store, run_id, 0, {"new": 2}, [], failures_cap=10)
    assert history.record_dead_chunk(store, run_id, 1, 3, "ServerSelectionTimeoutError", failures_cap=10)
    assert not history.record_dead_chunk(store, run_id, 1, 3, "again", failures_cap=10)
    run = history.get_run(store, run_id)
    assert run["status"] == "completed" and run["failed"] == 3
    assert "dead-lettered" in run["failures"][-1]["reason"]
    # Requeued from the dead letters and written after all: the numbers are corrected.
    history.record_chunk(store, run_id, 1, {"new": 3}, [], failures_cap=10, was_dead=3)
    run = history.get_run(store, run_id)
    assert (run["new"], run["failed"], run["chunks_dead"], run["chunks_accounted"]) == (5, 0, [], 2)


def test_a_redelivered_fetch_after_finishing_does_nothing(store) -> None:
    run_id = new_run(store)
    finish(store, run_id, chunks=0, fetched=0)
    assert history.get_run(store, run_id)["status"] == "completed"
    assert history.start_fetch(store, run_id) is None


def test_failures_list_is_capped_but_the_count_is_not(store) -> None:
    run_id = new_run(store)
    finish(store, run_id, chunks=1, fetched=30, failures=15)
    history.record_chunk(
        store, run_id, 0, {"new": 5, "failed": 10}, [{"guid": "g", "reason": "r"}] * 10, failures_cap=10
    )
    run = history.get_run(store, run_id)
    assert run["failed"] == 25 and len(run["failures"]) == 10


def test_fail_run_sets_reason_and_is_final(store) -> None:
    run_id = new_run(store)
    history.fail_run(store, run_id, "HTTP 404 Not Found", 404)
    run = history.get_run(store, run_id)
    assert (run["status"], run["error"], run["http_status"]) == ("failed", "HTTP 404 Not Found", 404)
    finish(store, run_id, chunks=0, fetched=0)
    assert history.get_run(store, run_id)["status"] == "failed"


def test_cleanup_removes_only_old_finished_runs_and_failed_items(store) -> None:
    from datetime import timedelta

    from job_importer import failed_items

    old, recent, running = (new_run(store) for _ in range(3))
    for run_id in (old, recent):
        finish(store, run_id, chunks=0, fetched=0)
    failed_items.record(store, old, FEED.url, [failed_items.ItemFailure(key="k", reason="r")])
    long_ago = history.now() - timedelta(days=40)
    store.runs.update_many({"_id": {"$in": [old, running]}}, {"$set": {"created_at": long_ago}})
    store.failed_items.update_many({}, {"$set": {"created_at": long_ago}})
    assert history.cleanup(store, timedelta(days=30)) == {"runs": 1, "failed_items": 1}
    assert {run["_id"] for run in store.runs.find()} == {recent, running}
