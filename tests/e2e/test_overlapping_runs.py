"""Two runs of one feed that overlap, with real worker processes: the newer content wins."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from devstack.feedserver import FeedServer, Reply, Request
from devstack.samplefeeds import edited, jobicy_feed, jobxml_feed, sample_jobs
from job_importer.settings import FeedConfig
from job_importer.trigger import start_import
from tests.conftest import Workers, assert_adds_up, wait_for_runs


def test_an_older_slow_download_does_not_overwrite_newer_content(
    settings, store, broker, workers: Workers, feed_server: FeedServer
) -> None:
    # Run A asks first and gets v1, slowly; run B asks later and gets v2 at once, and imports it.
    # A's items were stamped when A started sending them, after B's: they replaced v2.
    jobs = sample_jobs(24, seed=9)
    v1, v2 = jobicy_feed(jobs), jobicy_feed([edited(job, "(v2)") for job in jobs])
    first_asked, release = threading.Event(), threading.Event()
    requests: list[int] = []

    def route(request: Request) -> Reply:
        requests.append(1)
        if len(requests) > 1:
            return Reply(body=v2)
        first_asked.set()

        def slowly() -> Iterator[bytes]:
            yield v1[:100]
            release.wait(60)
            yield v1[100:]

        return Reply(body=slowly())

    feed_server.routes["/jobs.xml"] = route
    feed = FeedConfig(url=feed_server.url("/jobs.xml"), source="acme")
    workers.start_both()

    [run_a] = start_import(settings, store, broker, [feed], "cli").run_ids
    assert first_asked.wait(30)
    [run_b] = start_import(settings, store, broker, [feed], "cli").run_ids
    [b] = wait_for_runs(store, [run_b])
    assert (b["status"], b["new"]) == ("completed", 24)
    release.set()
    [a] = wait_for_runs(store, [run_a])

    assert a["status"] == "completed" and a["fetched"] == 24 and a["updated"] == 0
    assert_adds_up(a)
    titles = [doc["title"] for doc in store.jobs.find({"source": "acme"})]
    assert len(titles) == 24 and all(title.endswith("(v2)") for title in titles), titles[:3]


def test_an_older_slow_download_neither_brings_back_nor_expires_against_a_newer_fetch(
    settings, store, broker, workers: Workers, feed_server: FeedServer
) -> None:
    """A catalog: run B (asked later, answered at once) drops four listings and expires them;
    run A (asked first, answered slowly with all of them) ends after B and must leave that be."""
    jobs = sample_jobs(24, seed=10)
    everything, newer = jobxml_feed(jobs), jobxml_feed(jobs[4:])
    feed = FeedConfig(url=feed_server.url("/board.xml"), source="board")
    feed_server.routes["/board.xml"] = everything
    workers.start_both()
    wait_for_runs(store, start_import(settings, store, broker, [feed], "cli").run_ids)

    first_asked, release = threading.Event(), threading.Event()
    requests: list[int] = []

    def route(request: Request) -> Reply:
        requests.append(1)
        if len(requests) > 1:
            return Reply(body=newer, content_type="text/xml")
        first_asked.set()

        def slowly() -> Iterator[bytes]:
            yield everything[:100]
            release.wait(60)
            yield everything[100:]

        return Reply(body=slowly(), content_type="text/xml")

    feed_server.routes["/board.xml"] = route
    [run_a] = start_import(settings, store, broker, [feed], "cli").run_ids
    assert first_asked.wait(30)
    [run_b] = start_import(settings, store, broker, [feed], "cli").run_ids
    [b] = wait_for_runs(store, [run_b])
    assert (b["status"], b["unchanged"], b["expired"]) == ("completed", 20, 4)
    release.set()
    [a] = wait_for_runs(store, [run_a])

    assert (a["status"], a["unchanged"], a["expired"], a["reactivated"]) == ("completed", 24, 0, 0)
    assert_adds_up(a)
    states = {doc["guid"]: doc["status"] for doc in store.jobs.find({"source": "board"})}
    assert sorted(guid for guid, status in states.items() if status == "expired") == sorted(
        f"JX-{job.number}" for job in jobs[:4]
    )
    assert sum(status == "active" for status in states.values()) == 20
