"""The listing lifecycle end to end: loopback HTTP -> fetcher worker -> Redis -> importer worker ->
MongoDB. A catalog feed expires what left it and brings back what returns; a window feed does
not, unless ``expire_after_days`` says so; no bad fetch (304, partial, failed, over the cap,
empty) expires anything; expiry dates in the past and the future."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from devstack.feedserver import FeedServer, Reply, Request
from devstack.samplefeeds import edited, jobicy_feed, jobxml_feed, sample_jobs
from job_importer.settings import FeedConfig
from tests.conftest import Workers, assert_adds_up, run_import
from tests.e2e.test_streaming import broken_off

JOBS = sample_jobs(20, seed=12)


def states(store, source: str) -> dict[str, tuple[str, str | None]]:
    return {
        doc["guid"]: (doc["status"], doc.get("expired_reason"))
        for doc in store.jobs.find({"source": source}, {"guid": 1, "status": 1, "expired_reason": 1})
    }


def counts(run: dict[str, Any]) -> tuple[Any, ...]:
    assert_adds_up(run)
    return tuple(
        run[name] for name in ("status", "fetched", "new", "updated", "unchanged", "expired", "reactivated")
    )


def test_a_catalog_feed_expires_what_left_it_and_brings_back_what_returns(
    settings, store, broker, workers: Workers, feed_server: FeedServer
) -> None:
    feed = FeedConfig(url=feed_server.url("/jobs.xml"), source="board")
    workers.start_both()
    feed_server.routes["/jobs.xml"] = jobxml_feed(JOBS)
    [first] = run_import(settings, store, broker, [feed])
    assert counts(first) == ("completed", 20, 20, 0, 0, 0, 0)
    assert first["active_listings"] == 20 and first["lifecycle"]["expire_missing"] is True

    feed_server.routes["/jobs.xml"] = jobxml_feed(JOBS[:17])  # three jobs closed
    [second] = run_import(settings, store, broker, [feed])
    assert counts(second) == ("completed", 17, 0, 0, 17, 3, 0)
    assert second["active_listings"] == 17 and second.get("warning") is None
    gone = {f"JX-{job.number}" for job in JOBS[17:]}
    assert {
        guid for guid, state in states(store, "board").items() if state == ("expired", "missing from feed")
    } == gone

    back = [*JOBS[:17], edited(JOBS[17]), JOBS[18]]  # two return, one of them edited
    feed_server.routes["/jobs.xml"] = jobxml_feed(back)
    [third] = run_import(settings, store, broker, [feed])
    assert counts(third) == ("completed", 19, 0, 1, 18, 0, 2)
    assert third["active_listings"] == 19
    final = states(store, "board")
    assert final.pop(f"JX-{JOBS[19].number}") == ("expired", "missing from feed")
    assert set(final.values()) == {("active", None)}
    revived = store.jobs.find_one({"guid": f"JX-{JOBS[17].number}"})
    assert revived["reactivated_run"] == third["_id"] and "expired_at" not in revived
    assert revived["last_seen_run"] == third["_id"] and revived["title"].endswith("(updated)")


def test_a_window_feed_keeps_what_left_it_unless_not_seen_for_days(
    settings, store, broker, workers: Workers, feed_server: FeedServer
) -> None:
    window = FeedConfig(url=feed_server.url("/latest.rss"), source="latest")
    aged = FeedConfig(url=feed_server.url("/aged.rss"), source="aged", expire_after_days=7)
    workers.start_both()
    feed_server.routes["/latest.rss"] = feed_server.routes["/aged.rss"] = jobicy_feed(JOBS[:10])
    run_import(settings, store, broker, [window, aged])
    # Ten days pass for the listings (the clock is moved back for what is stored), and the
    # feeds move on to the next ten jobs.
    store.jobs.update_many(
        {}, [{"$set": {"last_seen_at": {"$subtract": ["$last_seen_at", 10 * 86_400_000]}}}]
    )
    feed_server.routes["/latest.rss"] = feed_server.routes["/aged.rss"] = jobicy_feed(JOBS[5:15])
    runs = {run["source"]: run for run in run_import(settings, store, broker, [window, aged])}
    assert counts(runs["latest"]) == ("completed", 10, 5, 0, 5, 0, 0)
    assert counts(runs["aged"]) == ("completed", 10, 5, 0, 5, 5, 0)
    assert runs["latest"]["lifecycle"]["expire_missing"] is False
    assert set(states(store, "latest").values()) == {("active", None)}
    aged_states = states(store, "aged")
    expired = sorted(
        guid for guid, state in aged_states.items() if state == ("expired", "not seen for 7 days")
    )
    assert len(expired) == 5 and len(aged_states) == 15


def test_no_bad_fetch_expires_anything(
    settings, store, broker, workers: Workers, feed_server: FeedServer
) -> None:
    """Each case would expire every listing if it were taken for a complete fetch: the guard is
    set to allow that, so only the completeness rule stands between them and expiry."""
    body = jobxml_feed(JOBS)
    paths = ("/not-modified.xml", "/partial.xml", "/failing.xml", "/too-big.xml", "/garbled.xml")
    feeds = [
        FeedConfig(url=feed_server.url(path), source=path.strip("/"), expire_max_fraction=1) for path in paths
    ]
    for path in paths:
        feed_server.routes[path] = lambda request, body=body: Reply(
            body=body, content_type="text/xml", headers={"ETag": '"v1"'}
        )
    workers.start("fetcher", fetch_max_bytes=len(body) * 4)
    workers.start("importer")
    workers.wait_ready("fetcher")
    workers.wait_ready("importer")
    first = run_import(settings, store, broker, feeds)
    assert [run["new"] for run in first] == [20] * len(paths)

    small = jobxml_feed(JOBS[:2])
    at = small.index(b"</job>") + len(b"</job>") + 5  # one whole job, then the connection drops

    def not_modified(request: Request) -> Reply:
        return (
            Reply(status=304, headers={"ETag": '"v1"'})
            if request.headers.get("if-none-match")
            else Reply(body=body)
        )

    feed_server.routes.update({
        "/not-modified.xml": not_modified,
        "/partial.xml": lambda request: broken_off(small, at),
        "/failing.xml": lambda request: Reply(status=503, body=b"down", headers={"Retry-After": "1"}),
        "/too-big.xml": jobxml_feed(sample_jobs(400, seed=3, description_bytes=4000)),
        "/garbled.xml": b"<?xml version='1.0'?><source><job><title>unclosed",
    })  # fmt: skip
    second = {run["source"]: run for run in run_import(settings, store, broker, feeds, timeout=120)}
    assert second["not-modified.xml"]["not_modified"] is True
    assert second["partial.xml"]["partial"] is True and second["partial.xml"]["new"] == 0
    assert "no listing expired: the download broke off (partial)" in second["partial.xml"]["warning"]
    garbled = second["garbled.xml"]  # recovered: whatever was read is imported, nothing expires
    assert garbled["status"] == "completed" and garbled["warning"].endswith(
        "; no listing expired: the document was not read cleanly (see the warning)"
    )
    for name in ("failing.xml", "too-big.xml"):
        assert second[name]["status"] == "failed", second[name]
    assert [run["expired"] for run in second.values()] == [0] * len(paths)
    for path in paths:
        assert set(states(store, path.strip("/")).values()) == {("active", None)}, path


def test_a_feed_that_suddenly_serves_nothing_is_held_by_the_guard(
    settings, store, broker, workers: Workers, feed_server: FeedServer
) -> None:
    feed = FeedConfig(url=feed_server.url("/jobs.xml"), source="board")
    workers.start_both()
    feed_server.routes["/jobs.xml"] = jobxml_feed(JOBS)
    run_import(settings, store, broker, [feed])
    feed_server.routes["/jobs.xml"] = jobxml_feed([])
    [empty] = run_import(settings, store, broker, [feed])
    assert counts(empty) == ("completed", 0, 0, 0, 0, 0, 0)
    assert empty["warning"] == (
        "expiry skipped: 20 of 20 active listings (100%) would expire (missing from feed), "
        "more than expire_max_fraction 0.5 allows"
    )
    assert empty["active_listings"] == 20 and set(states(store, "board").values()) == {("active", None)}


def with_expiry(body: bytes, dates: dict[int, str]) -> bytes:
    """Give the jobs of these numbers an ``<expirydate>``."""
    for number, date in dates.items():
        marker = f"<referencenumber><![CDATA[JX-{number}]]></referencenumber>".encode()
        body = body.replace(marker, marker + f"<expirydate>{date}</expirydate>".encode())
    return body


def test_expiry_dates_in_the_past_and_the_future(
    settings, store, broker, workers: Workers, feed_server: FeedServer
) -> None:
    feed = FeedConfig(url=feed_server.url("/jobs.xml"), source="board")
    past, future = JOBS[0].number, JOBS[1].number
    feed_server.routes["/jobs.xml"] = with_expiry(
        jobxml_feed(JOBS), {past: "2020-01-31", future: "2099-12-31"}
    )
    workers.start_both()
    [first] = run_import(settings, store, broker, [feed])
    assert counts(first) == ("completed", 20, 20, 0, 0, 1, 0)
    assert states(store, "board").pop(f"JX-{past}") == ("expired", "expiry date passed")
    kept = store.jobs.find_one({"guid": f"JX-{future}"})
    assert kept["status"] == "active" and kept["expires_at"].year == 2099
    [again] = run_import(settings, store, broker, [feed])  # still listed, still past its date
    assert counts(again) == ("completed", 20, 0, 0, 20, 0, 0)
    assert states(store, "board")[f"JX-{past}"] == ("expired", "expiry date passed")
    assert re.fullmatch(
        r"\d{8}T\d{6}-[0-9a-f]{8}", store.jobs.find_one({"guid": f"JX-{past}"})["expired_run"]
    )
    assert store.jobs.find_one({"guid": f"JX-{past}"})["expired_at"] < again["finished_at"] + timedelta(
        seconds=1
    )
