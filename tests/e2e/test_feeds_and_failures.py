"""Feed-level behaviour end to end: validators, retries, broken feeds, duplicates, pause."""

from __future__ import annotations

import itertools
from pathlib import Path

from devstack.feedserver import FeedServer, Reply, Request
from devstack.samplefeeds import jobicy_feed, sample_jobs
from job_importer.control import pause, resume, worker_states
from job_importer.queues import queue_stats
from job_importer.settings import FeedConfig
from job_importer.trigger import start_import
from tests.conftest import Workers, assert_adds_up, run_import, wait_for, wait_for_runs

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def flaky(status: int, failures: int, body: bytes, headers: dict[str, str] | None = None):
    """A route that answers ``status`` ``failures`` times, then serves ``body``."""
    calls = {"n": 0}

    def route(request: Request) -> Reply:
        calls["n"] += 1
        if calls["n"] <= failures:
            return Reply(status=status, body=b"try later", headers=headers or {}, content_type="text/plain")
        return Reply(body=body)

    return route


def test_not_modified_is_a_run_with_nothing_to_do(settings, store, broker, workers: Workers) -> None:
    body = jobicy_feed(sample_jobs(30, seed=3))
    with FeedServer({"/f.xml": body}, validators=True) as server:
        feed = FeedConfig(url=server.url("/f.xml"), source="etag")
        workers.start_both()
        [first] = run_import(settings, store, broker, [feed])
        written = {doc["_id"]: doc["updated_at"] for doc in store.jobs.find({}, {"updated_at": 1})}
        [second] = run_import(settings, store, broker, [feed])
    assert first["new"] == 30
    assert second["status"] == "completed" and second["not_modified"] and second["http_status"] == 304
    assert (second["fetched"], second["new"], second["updated"], second["unchanged"]) == (0, 0, 0, 0)
    assert {doc["_id"]: doc["updated_at"] for doc in store.jobs.find({}, {"updated_at": 1})} == written


def test_one_broken_feed_never_stops_the_others(settings, store, broker, workers: Workers) -> None:
    good = jobicy_feed(sample_jobs(40, start=100, seed=1))
    truncated = jobicy_feed(sample_jobs(10, start=200, seed=2))
    truncated = truncated[: truncated.index(b"</item>", len(truncated) // 2) + 7]
    routes = {
        "/good.xml": good,
        "/html.xml": (FIXTURES / "not_a_feed.html").read_bytes(),
        "/xxe.xml": (FIXTURES / "xxe.xml").read_bytes(),
        "/bomb.xml": (FIXTURES / "billion_laughs.xml").read_bytes(),
        "/truncated.xml": truncated,
        "/flaky500.xml": flaky(500, 1, jobicy_feed(sample_jobs(5, start=300, seed=3))),
        "/ratelimited.xml": flaky(
            429, 1, jobicy_feed(sample_jobs(5, start=400, seed=4)), {"Retry-After": "1"}
        ),
        "/down.xml": flaky(503, 99, b""),
        "/toolong.xml": flaky(429, 99, b"", {"Retry-After": "999999"}),
        "/endless.xml": lambda request: Reply(body=itertools.repeat(b"<item>" * 10_000)),
    }
    with FeedServer(routes) as server:  # type: ignore[arg-type]
        feeds = [
            FeedConfig(url=server.url(path), source=path.strip("/")) for path in [*routes, "/missing.xml"]
        ]
        workers.settings = settings.model_copy(update={"fetch_max_bytes": 2_000_000})
        workers.start_both()
        runs = {
            run["feed_url"].rsplit("/", 1)[1]: run
            for run in run_import(settings, store, broker, feeds, timeout=120)
        }

    assert runs["good.xml"]["status"] == "completed" and runs["good.xml"]["new"] == 40
    assert runs["html.xml"]["status"] == "failed" and "HTML page" in runs["html.xml"]["error"]
    assert runs["missing.xml"]["status"] == "failed" and runs["missing.xml"]["http_status"] == 404
    assert runs["xxe.xml"]["status"] == "completed"
    assert "root:" not in store.jobs.find_one({"source": "xxe.xml"})["title"]
    assert runs["bomb.xml"]["status"] == "failed" and "internal XML entities" in runs["bomb.xml"]["error"]
    assert runs["truncated.xml"]["status"] == "completed" and "malformed" in runs["truncated.xml"]["warning"]
    assert runs["truncated.xml"]["new"] >= 4
    assert runs["flaky500.xml"]["status"] == "completed" and runs["flaky500.xml"]["fetch_attempts"] == 2
    assert runs["ratelimited.xml"]["status"] == "completed" and runs["ratelimited.xml"]["new"] == 5
    assert runs["down.xml"]["status"] == "failed" and "503" in runs["down.xml"]["error"]
    assert runs["down.xml"]["fetch_attempts"] == settings.fetch_max_retries + 1
    assert runs["toolong.xml"]["status"] == "failed" and "retry after" in runs["toolong.xml"]["error"]
    assert (
        runs["endless.xml"]["status"] == "failed"
        and "exceeds the limit of 2,000,000 bytes" in runs["endless.xml"]["error"]
    )
    for run in runs.values():
        assert_adds_up(run)


def test_an_item_already_waiting_in_the_queue_is_not_enqueued_twice(
    settings, store, broker, redis_client, workers: Workers
) -> None:
    body = jobicy_feed(sample_jobs(50, seed=9))
    with FeedServer({"/a.xml": body, "/b.xml": body}) as server:
        feeds = [FeedConfig(url=server.url(p), source="same-board") for p in ("/a.xml", "/b.xml")]
        workers.start("fetcher")
        workers.wait_ready("fetcher")
        # No importer yet: the first feed's items stay waiting in the import queue.
        started = start_import(settings, store, broker, feeds, "cli")
        # The feed that claimed the items waits for the importer; the other one is all duplicates.
        wait_for(
            lambda: (
                sorted(store.runs.find_one({"_id": r})["status"] for r in started.run_ids)
                == ["completed", "importing"]
            ),
            what="both fetches to finish",
        )
        workers.start("importer")
        runs = wait_for_runs(store, started.run_ids)
    assert sorted((run["new"], run["duplicates"]) for run in runs) == [(0, 50), (50, 0)]
    assert store.jobs.count_documents({}) == 50
    for run in runs:
        assert_adds_up(run)


def test_pause_holds_messages_and_resume_processes_them(
    settings, store, broker, redis_client, workers: Workers
) -> None:
    with FeedServer({"/f.xml": jobicy_feed(sample_jobs(120, seed=4))}) as server:
        feed = FeedConfig(url=server.url("/f.xml"), source="paused")
        workers.start_both()
        pause(redis_client, settings.queue_namespace, [settings.import_queue])
        wait_for(
            lambda: worker_states(redis_client, settings.queue_namespace, settings.import_queue) == ["paused"]
        )
        started = start_import(settings, store, broker, [feed], "cli")
        wait_for(lambda: store.runs.find_one({"_id": started.run_ids[0]})["status"] == "importing")
        [stats] = [s for s in queue_stats(redis_client, settings) if s.queue == settings.import_queue]
        assert stats.paused and stats.ready == store.runs.find_one()["chunks_total"] == 2
        assert store.jobs.count_documents({}) == 0
        resume(redis_client, settings.queue_namespace, [settings.import_queue])
        [run] = wait_for_runs(store, started.run_ids)
    assert run["status"] == "completed" and run["new"] == 120
