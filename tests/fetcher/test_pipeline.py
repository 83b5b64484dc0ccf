"""One fetch through the fetcher's pipeline, against real Redis, MongoDB and a loopback server:
what is recorded, in which order, when an attempt dies part-way."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from typing import Any

import pytest
from dramatiq.brokers.redis import RedisBroker

from devstack.feedserver import FeedServer, Reply, Request
from devstack.samplefeeds import jobicy_feed, sample_jobs
from job_importer import history
from job_importer.db import Store
from job_importer.pending import PendingItems
from job_importer.settings import FeedConfig, Settings
from services.fetcher import pipeline
from services.fetcher.download import Validators, make_client
from services.fetcher.feed_state import load_validators, save_validators
from services.fetcher.pipeline import FetcherContext, run_fetch


class WorkerKilled(BaseException):
    """Stands for the worker dying at that line (kill -9): nothing after it runs."""


@pytest.fixture
def ctx(settings: Settings, store: Store, broker: RedisBroker) -> Iterator[FetcherContext]:
    pending = PendingItems(
        broker.client, settings.queue_namespace, settings.import_queue, settings.dedupe_ttl_s
    )
    with make_client(settings) as http:
        yield FetcherContext(
            settings=settings, store=store, broker=broker, pending=pending, http=http, guarded_http=http
        )


def new_run(store: Store, feed: FeedConfig) -> str:
    [run_id] = history.create_runs(store, [feed], "cli", history.new_id("b-"))
    return run_id


def killed_at_finish_fetch(monkeypatch: pytest.MonkeyPatch) -> None:
    def killed(*args: Any, **kwargs: Any) -> bool:
        raise WorkerKilled

    monkeypatch.setattr(pipeline.history, "finish_fetch", killed)


def test_an_attempt_that_dies_before_finishing_leaves_no_validators(
    ctx: FetcherContext, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Validators saved before the fetch was recorded made the retry a conditional GET: a 304, and
    # the run completed "not modified" with all counts 0 while the first attempt's items existed.
    conditional: list[str] = []

    with FeedServer({"/jobs.xml": jobicy_feed(sample_jobs(5))}, validators=True) as server:
        original = server.reply

        def watching(request: Request) -> Reply:
            if "if-none-match" in request.headers:
                conditional.append(request.headers["if-none-match"])
            return original(request)

        server.reply = watching  # type: ignore[method-assign]
        feed = FeedConfig(url=server.url("/jobs.xml"), source="acme")
        run_id = new_run(store, feed)
        killed_at_finish_fetch(monkeypatch)
        with pytest.raises(WorkerKilled):
            run_fetch(ctx, run_id, feed, last_attempt=False)
        assert load_validators(store, feed.url) == Validators()

        monkeypatch.undo()  # the redelivered fetch: a full one
        run_fetch(ctx, run_id, feed, last_attempt=False)
    run = history.get_run(store, run_id) or {}
    assert conditional == []
    assert (run["status"], run["not_modified"], run["fetched"], run["chunks_total"]) == (
        "importing",
        False,
        5,
        1,
    )
    assert load_validators(store, feed.url).etag  # saved once the fetch was recorded


def test_failed_items_of_an_attempt_that_died_are_replaced_by_the_retry(
    ctx: FetcherContext, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Failures are keyed by entry position. The first attempt recorded three, died before
    # finishing; the feed gained an entry at the top, so the retry's three are at other
    # positions: six records for a run that says `failed: 3`.
    jobs = sample_jobs(8, seed=3)
    broken = {1, 3, 5}
    v1 = [replace(job, guid="", link="") if i in broken else job for i, job in enumerate(jobs)]
    v2 = [*sample_jobs(1, start=5000), *v1]
    with FeedServer({"/jobs.xml": jobicy_feed(v1)}) as server:
        feed = FeedConfig(url=server.url("/jobs.xml"), source="acme")
        run_id = new_run(store, feed)
        killed_at_finish_fetch(monkeypatch)
        with pytest.raises(WorkerKilled):
            run_fetch(ctx, run_id, feed, last_attempt=False)
        assert store.failed_items.count_documents({"run_id": run_id}) == 3

        monkeypatch.undo()
        server.routes["/jobs.xml"] = jobicy_feed(v2)
        run_fetch(ctx, run_id, feed, last_attempt=False)
    run = history.get_run(store, run_id) or {}
    records = list(store.failed_items.find({"run_id": run_id}))
    assert (run["fetched"], run["failed"]) == (9, 3)
    assert len(records) == run["failed"]
    assert {record["attempt"] for record in records} == {2}
    assert all("no guid, link or id" in record["reason"] for record in records)


def test_a_stale_attempt_whose_fetch_is_not_taken_leaves_no_failed_items(
    ctx: FetcherContext, store: Store
) -> None:
    # A worker that froze mid-fetch comes back after its message was redelivered and the retry
    # finished the fetch; the feed had changed, so its failure is at another position.
    jobs = sample_jobs(4, seed=5)
    with FeedServer({"/jobs.xml": jobicy_feed([replace(jobs[0], guid="", link=""), *jobs[1:]])}) as server:
        feed = FeedConfig(url=server.url("/jobs.xml"), source="acme")
        run_id = new_run(store, feed)
        stale = int((history.start_fetch(store, run_id) or {})["fetch_attempts"])
        run_fetch(ctx, run_id, feed, last_attempt=False)  # attempt 2 finishes the fetch
        server.routes["/jobs.xml"] = jobicy_feed([*jobs[:2], replace(jobs[2], guid="", link=""), jobs[3]])
        outcome = pipeline.fetch(ctx, run_id, stale, feed, last_attempt=False)
        pipeline.record(ctx, run_id, stale, feed, outcome, started=0.0)
    records = list(store.failed_items.find({"run_id": run_id}))
    assert (history.get_run(store, run_id) or {})["failed"] == len(records) == 1
    assert records[0]["_id"].endswith(":entry-0")  # attempt 2's


def utf8_as_header(text: str) -> str:
    """``text`` as a header value whose bytes on the wire are its UTF-8 (http.server sends Latin-1)."""
    return text.encode("utf-8").decode("latin-1")


def test_a_non_ascii_etag_is_sent_back_as_the_server_sent_it(ctx: FetcherContext, store: Store) -> None:
    # httpx read `ETag: "café"` as text and could not encode it again: every later run of the
    # feed died with UnicodeEncodeError.
    etag = utf8_as_header('"café"')
    seen: list[str | None] = []

    def route(request: Request) -> Reply:
        seen.append(request.headers.get("if-none-match"))
        if request.headers.get("if-none-match") == etag:
            return Reply(status=304, headers={"ETag": etag})
        return Reply(body=jobicy_feed(sample_jobs(3)), headers={"ETag": etag})

    with FeedServer({"/jobs.xml": route}) as server:
        feed = FeedConfig(url=server.url("/jobs.xml"), source="acme")
        first, second = new_run(store, feed), new_run(store, feed)
        run_fetch(ctx, first, feed, last_attempt=False)
        run_fetch(ctx, second, feed, last_attempt=False)
    assert seen == [None, etag]  # the very bytes it sent
    run = history.get_run(store, second) or {}
    assert (run["status"], run["not_modified"]) == ("completed", True)


def test_a_stored_validator_that_cannot_be_sent_makes_a_full_fetch(ctx: FetcherContext, store: Store) -> None:
    # What an earlier version stored from a UTF-8 ETag, or anything else no header can carry.
    seen: list[dict[str, str]] = []

    def route(request: Request) -> Reply:
        seen.append(request.headers)
        return Reply(body=jobicy_feed(sample_jobs(3)))

    with FeedServer({"/jobs.xml": route}) as server:
        feed = FeedConfig(url=server.url("/jobs.xml"), source="acme")
        save_validators(store, feed.url, Validators(etag='"caf€"', last_modified="Tue,\n 1 Dec"))
        run_id = new_run(store, feed)
        run_fetch(ctx, run_id, feed, last_attempt=False)
    run = history.get_run(store, run_id) or {}
    assert (run["status"], run["fetched"], run["error"]) == ("importing", 3, None)
    assert "if-none-match" not in seen[0] and "if-modified-since" not in seen[0]


@contextmanager
def dripping_headers(seconds_per_byte: float, header_bytes: int) -> Iterator[tuple[str, threading.Event]]:
    """A loopback server that sends its status line and headers one byte at a time, then a feed;
    yields the feed's URL and an event set once the server got all its headers out."""
    body = jobicy_feed(sample_jobs(2))
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nX-Slow: "
        + b"x" * header_bytes
        + b"\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\nConnection: close\r\n\r\n"
    )
    stop, headers_sent = threading.Event(), threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with suppress(OSError):
            connection, _ = listener.accept()
            with connection:
                connection.recv(65536)
                for byte in head:
                    if stop.wait(seconds_per_byte):
                        return
                    connection.sendall(bytes([byte]))
                headers_sent.set()
                connection.sendall(body)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/jobs.xml", headers_sent
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=10)


def test_headers_dripped_a_byte_at_a_time_fail_the_run_at_the_total_deadline(
    ctx: FetcherContext, settings: Settings, store: Store
) -> None:
    # httpx's read timeout is per read: a byte a second never trips it, and the total deadline
    # was checked only between parts of the body, so the headers could take as long as they liked.
    strict = settings.model_copy(update={"fetch_total_timeout_s": 2.0, "fetch_read_timeout_s": 10.0})
    with (
        make_client(strict) as http,
        dripping_headers(seconds_per_byte=0.2, header_bytes=10) as (url, headers_sent),
    ):
        feed = FeedConfig(url=url, source="acme")
        run_id = new_run(store, feed)
        run_fetch(replace(ctx, settings=strict, http=http), run_id, feed, last_attempt=True)
        assert not headers_sent.is_set()  # the fetcher hung up mid-headers (they take about 25 s)
    run = history.get_run(store, run_id) or {}
    assert run["status"] == "failed"
    assert run["error"] == "no complete response within the total deadline of 2 s"
