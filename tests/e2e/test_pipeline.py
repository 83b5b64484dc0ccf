"""The whole path, fetcher -> Redis -> importer -> MongoDB, with real processes."""

from __future__ import annotations

from dataclasses import replace

from devstack.feedserver import FeedServer
from devstack.samplefeeds import edited, jobicy_feed, sample_jobs
from job_importer.settings import FeedConfig
from tests.conftest import Workers, assert_adds_up, run_import


def test_first_run_imports_everything_then_rerun_is_unchanged_then_edits_are_updates(
    settings, store, broker, workers: Workers, feed_server: FeedServer
) -> None:
    jobs = sample_jobs(250, seed=11)
    broken = replace(jobs[7], guid="", link="")  # no identity: a failed item, not a crash
    feed_server.routes["/jobs.xml"] = jobicy_feed([*jobs[:7], broken, *jobs[8:]])
    feed = FeedConfig(url=feed_server.url("/jobs.xml"), source="acme")
    workers.start_both()

    [first] = run_import(settings, store, broker, [feed])
    assert first["status"] == "completed"
    assert (first["fetched"], first["new"], first["updated"], first["unchanged"], first["failed"]) == (
        250,
        249,
        0,
        0,
        1,
    )
    assert "no guid, link or id" in first["failures"][0]["reason"]
    assert_adds_up(first)
    assert store.jobs.count_documents({"source": "acme"}) == 249

    [second] = run_import(settings, store, broker, [feed])
    assert (second["new"], second["updated"], second["unchanged"], second["failed"]) == (0, 0, 249, 1)
    assert_adds_up(second)

    changed = {3, 50, 120}
    feed_server.routes["/jobs.xml"] = jobicy_feed(
        [edited(job) if i in changed else job for i, job in enumerate([*jobs[:7], broken, *jobs[8:]])]
    )
    [third] = run_import(settings, store, broker, [feed])
    assert (third["new"], third["updated"], third["unchanged"]) == (0, 3, 246)
    assert_adds_up(third)
    doc = store.jobs.find_one(
        {"_id": f"acme#https://jobicy.example/?post_type=job_listing&p={jobs[50].number}"}
    )
    assert doc is not None and doc["title"].endswith("(updated)")
    assert store.jobs.count_documents({}) == 249
