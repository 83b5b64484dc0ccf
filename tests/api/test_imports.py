"""Starting imports through the API, the history with its filters, and the live stream."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse

from devstack.samplefeeds import sample_jobs
from tests.api.conftest import CONFIGURED
from tests.api.helpers import serve, start, wait_finished
from tests.api_server import Stack


def test_start_an_import_of_one_feed_and_read_its_run(stack: Stack, client: httpx.Client) -> None:
    jobs = sample_jobs(45, start=1000, seed=5)
    jobs[3] = replace(jobs[3], title="")  # a failure with a reason
    url = serve(stack, jobs)
    [run_id] = start(client, url)
    run = wait_finished(client, run_id)
    assert (run["status"], run["trigger"], run["feed_url"]) == ("completed", "api", url)
    assert (run["fetched"], run["new"], run["updated"], run["unchanged"], run["failed"]) == (45, 44, 0, 0, 1)
    assert run["duration_ms"] > 0 and run["finished_at"] >= run["created_at"]
    assert run["partial"] is False  # the whole feed arrived
    assert run["failures"] == [
        {
            "guid": f"https://jobicy.example/?post_type=job_listing&p={jobs[3].number}",
            "reason": "entry has no title",
        }
    ]


def test_start_without_a_body_imports_every_configured_feed(stack: Stack, client: httpx.Client) -> None:
    feeds = client.get("/feeds").json()
    assert [feed["url"] for feed in feeds] == [stack.feeds.url(path) for path in CONFIGURED]
    response = client.post("/imports/start")
    assert response.status_code == 202
    started = response.json()
    assert started["batch_id"].startswith("batch-") and len(started["run_ids"]) == 2
    runs = [wait_finished(client, run_id) for run_id in started["run_ids"]]
    assert {run["feed_url"] for run in runs} == {feed["url"] for feed in feeds}
    assert all(run["status"] == "completed" and run["fetched"] == 30 for run in runs)
    listed = client.get("/imports", params={"batch_id": started["batch_id"]}).json()
    assert {run["run_id"] for run in listed["items"]} == set(started["run_ids"])


def test_history_is_paginated_and_filtered(stack: Stack, client: httpx.Client) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    good = serve(stack, sample_jobs(5, start=2000, seed=6))
    missing = stack.feeds.url("/no-such-feed.xml")  # 404: a failed run
    run_ids = [*start(client, good), *start(client, good), *start(client, missing)]
    for run_id in run_ids:
        wait_finished(client, run_id)

    of_good = client.get("/imports", params={"feed": good}).json()
    assert of_good["total"] == 2 and {run["feed_url"] for run in of_good["items"]} == {good}
    assert [run["run_id"] for run in of_good["items"]] == run_ids[1::-1]  # newest first

    failed = client.get("/imports", params={"feed": missing, "status": "failed"}).json()
    assert failed["total"] == 1 and failed["items"][0]["error"].startswith("HTTP 404")
    assert client.get("/imports", params={"feed": missing, "status": "completed"}).json()["total"] == 0

    page = client.get("/imports", params={"feed": good, "page": 2, "page_size": 1}).json()
    assert (page["page"], page["page_size"], page["total"]) == (2, 1, 2)
    assert [run["run_id"] for run in page["items"]] == [run_ids[0]]

    recent = client.get("/imports", params={"since": before.isoformat(), "page_size": 200}).json()
    assert set(run_ids) <= {run["run_id"] for run in recent["items"]}
    old = client.get("/imports", params={"until": before.isoformat(), "feed": good}).json()
    assert old["total"] == 0


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"page_size": 0}, "page_size"),
        ({"page_size": 201}, "page_size"),
        ({"page": 0}, "page"),
        ({"page": "two"}, "page"),
        ({"status": "exploded"}, "status"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until"),
    ],
)
def test_bad_history_queries_get_a_clear_422(anon: httpx.Client, params: dict[str, Any], where: str) -> None:
    response = anon.get("/imports", params=params)
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["loc"][-1] == where and problem["msg"]


def test_an_unknown_run_is_a_404_with_a_message(anon: httpx.Client) -> None:
    response = anon.get("/imports/20260101T000000-deadbeef")
    assert response.status_code == 404
    assert response.json() == {"detail": "no run with id '20260101T000000-deadbeef'"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"feeds": ["ftp://example.com/feed.xml"]}, "only http and https"),
        ({"feeds": ["file:///etc/passwd"]}, "only http and https"),
        ({"feeds": ["not a url"]}, "whitespace"),
        ({"feeds": ["jobs.xml"]}, "only http and https"),
        ({"feeds": ["http://"]}, "no host"),
        ({"feeds": ["http://example.com:99999/feed"]}, "malformed URL"),
        ({"feeds": ["https://example.com/" + "x" * 2000]}, "longer than"),
        ({"feeds": []}, "at least 1"),
        ({"feeds": "https://example.com/feed.xml"}, "valid list"),
    ],
)
def test_malformed_feed_urls_are_refused(stack: Stack, client: httpx.Client, body: Any, message: str) -> None:
    before = stack.store.runs.count_documents({})
    response = client.post("/imports/start", json=body)
    assert response.status_code == 422, response.text
    assert message in json.dumps(response.json())
    assert stack.store.runs.count_documents({}) == before  # nothing was started


def test_a_body_that_is_not_json_is_a_422(client: httpx.Client) -> None:
    response = client.post("/imports/start", content=b"{feeds", headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_the_stream_reports_progress_as_chunks_land_and_then_completion(
    stack: Stack, client: httpx.Client
) -> None:
    # 200 items in chunks of 20, written at most one per 150 ms: the counts move for over a second.
    url = serve(stack, sample_jobs(200, start=3000, seed=7, description_bytes=200))
    events: list[tuple[str, dict[str, Any]]] = []
    subscribed = threading.Event()
    run_ids: list[str] = []

    def listen() -> None:
        with (
            httpx.Client(base_url=stack.api.base_url, timeout=httpx.Timeout(5, read=30)) as sse_client,
            connect_sse(sse_client, "GET", "/imports/stream") as source,
        ):
            assert source.response.headers["content-type"].startswith("text/event-stream")
            for sse in source.iter_sse():
                if not sse.data:  # the opening comment and retry hint
                    subscribed.set()
                    continue
                run = sse.json()
                if run["feed_url"] == url:
                    events.append((sse.event, run))
                    if sse.event == "finished":
                        return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert subscribed.wait(10), "the stream did not open"
    run_ids += start(client, url)
    listener.join(60)
    assert not listener.is_alive(), (
        f"no finished event; got {[(e, r['status'], r['new']) for e, r in events]}"
    )

    names = [name for name, _ in events]
    assert names[-1] == "finished" and names.count("finished") == 1
    assert all(run["run_id"] == run_ids[0] for _, run in events)
    progress = [run for name, run in events if name == "progress"]
    assert any(0 < run["new"] < 200 for run in progress), [run["new"] for run in progress]  # counts moved
    assert [run["new"] for run in progress] == sorted(run["new"] for run in progress)
    finished = events[-1][1]
    assert (finished["status"], finished["fetched"], finished["new"], finished["failed"]) == (
        "completed",
        200,
        200,
        0,
    )
