"""Two runs of one feed that overlap, with real worker processes: the newer content wins."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from devstack.feedserver import FeedServer, Reply, Request
from devstack.samplefeeds import edited, jobicy_feed, sample_jobs
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
