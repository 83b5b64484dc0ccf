"""The per-host slots and interval (services/fetcher/politeness.py) against a real Redis: leases
that outlive a killed fetcher only until they expire, the interval between requests, and the
requests of a fetch (redirects included) paced on a loopback server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import redis
from dramatiq.brokers.redis import RedisBroker

from devstack.feedserver import FeedServer, Reply
from devstack.samplefeeds import jobicy_feed, sample_jobs
from job_importer import history
from job_importer.db import Store
from job_importer.pending import PendingItems
from job_importer.settings import FeedConfig, Settings
from services.fetcher.download import Validators, download, make_client
from services.fetcher.pipeline import FetcherContext, run_fetch
from services.fetcher.politeness import HostBusy, HostLimiter, host_key
from tests.conftest import wait_for

HOST = "feeds.example:443"
ROOT = Path(__file__).resolve().parents[2]


def limiter(client: redis.Redis, settings: Settings, **limits: int) -> HostLimiter:
    return HostLimiter(
        client,
        settings.queue_namespace,
        slots=limits.get("slots", 2),
        interval_ms=limits.get("interval_ms", 0),
        lease_ms=limits.get("lease_ms", 60_000),
    )


@pytest.fixture
def client(settings: Settings, broker: RedisBroker) -> redis.Redis:
    return broker.client  # the broker fixture deletes the namespace's keys afterwards


def test_host_key_is_the_lowercased_host_and_port() -> None:
    assert host_key("https://Feeds.Example/jobs?x=1") == HOST
    assert host_key("http://feeds.example/") == "feeds.example:80"
    assert host_key("http://127.0.0.1:8080/a") == "127.0.0.1:8080"
    assert host_key("http://[::1]:8080/a") == "[::1]:8080"
    assert host_key("not a url") is None


def test_slots_are_counted_across_limiters_and_given_back(client: redis.Redis, settings: Settings) -> None:
    one, other = limiter(client, settings), limiter(client, settings)  # two fetcher replicas
    first, _ = one.try_acquire(HOST)
    second, _ = other.try_acquire(HOST)
    assert first is not None and second is not None
    assert other.try_acquire(HOST) == (None, -1)  # no free slot
    assert one.try_acquire("other.example:443")[0] is not None  # each host has its own
    assert one.held(HOST) == 2

    first.release()
    first.release()  # a second release gives back nothing more
    assert one.held(HOST) == 1
    third, _ = other.try_acquire(HOST)
    assert third is not None
    assert other.try_acquire(HOST) == (None, -1)


def test_a_killed_fetcher_holds_its_slot_only_until_the_lease_expires(
    client: redis.Redis, settings: Settings
) -> None:
    # A separate process takes the only slot and is killed with it held (kill -9: no release).
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
                import sys, time, redis
                from services.fetcher.politeness import HostLimiter
                limits = HostLimiter(redis.Redis.from_url({settings.redis_url!r}),
                                     {settings.queue_namespace!r}, slots=1, interval_ms=0, lease_ms=3000)
                lease, _ = limits.try_acquire({HOST!r})
                print("held" if lease else "busy", flush=True)
                time.sleep(600)
            """),
        ],
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
    limits = limiter(client, settings, slots=1, lease_ms=3000)
    assert limits.try_acquire(HOST) == (None, -1)  # still held: the lease has not expired
    lease = wait_for(lambda: limits.try_acquire(HOST)[0], 15, what="the dead holder's lease to expire")
    assert lease is not None and limits.held(HOST) == 1


def test_a_new_fetch_waits_for_the_interval_and_requests_under_way_reserve_their_turn(
    client: redis.Redis, settings: Settings
) -> None:
    minute = 60_000  # far longer than the test: what it checks does not depend on its speed
    limits = limiter(client, settings, slots=0, interval_ms=minute)
    first, _ = limits.try_acquire(HOST)
    assert first is not None
    refused, wait_ms = limits.try_acquire(HOST)
    assert refused is None and 0 < wait_ms <= minute  # the interval has not passed
    assert limits.acquire(f"https://{HOST}/jobs", wait_s=0) is None
    # The next requests of the fetch under way (pages, redirects) take the following turns.
    assert 0 < limits.pace(first) <= minute / 1000
    assert minute / 1000 < limits.pace(first) <= 2 * minute / 1000
    assert limits.try_acquire("other.example:443")[0] is not None


def test_without_limits_nothing_is_held(client: redis.Redis, settings: Settings) -> None:
    limits = limiter(client, settings, slots=0, interval_ms=0)
    leases = [limits.acquire(f"https://{HOST}/jobs", wait_s=0) for _ in range(5)]
    assert all(lease is not None for lease in leases)
    assert not list(client.scan_iter(match=f"{settings.queue_namespace}:__host__:*"))


def test_a_redirect_to_the_same_host_waits_for_its_turn(client: redis.Redis, settings: Settings) -> None:
    interval_ms = 400
    routes = {
        "/old.xml": lambda request: Reply(status=301, headers={"Location": "/jobs.xml"}),
        "/jobs.xml": jobicy_feed(sample_jobs(1)),
    }
    limits = limiter(client, settings, slots=1, interval_ms=interval_ms)
    with FeedServer(routes) as server, make_client(settings) as http:  # type: ignore[arg-type]
        lease = limits.acquire(server.url("/old.xml"))
        assert lease is not None
        with lease:
            got = download(
                http, server.url("/old.xml"), validators=Validators(), max_bytes=10**6, total_timeout_s=5
            )
        assert got.status == 200 and limits.held(lease.host) == 0
        (_, first), (_, second) = server.arrivals
    # A lower bound only: the redirect slept until its reserved turn, one interval after the first.
    assert second - first >= interval_ms / 1000 * 0.9


def test_a_fetch_whose_host_is_busy_leaves_its_run_queued(
    settings: Settings, store: Store, broker: RedisBroker
) -> None:
    limits = limiter(broker.client, settings, slots=1)
    with FeedServer({"/jobs.xml": jobicy_feed(sample_jobs(3))}) as server, make_client(settings) as http:
        feed = FeedConfig(url=server.url("/jobs.xml"), source="acme")
        ctx = FetcherContext(
            settings=settings,
            store=store,
            broker=broker,
            pending=PendingItems.for_settings(broker.client, settings),
            http=http,
            guarded_http=http,
            hosts=limits,
        )
        [run_id] = history.create_runs(store, [feed], "cli", history.new_id("b-"))
        other, _ = limits.try_acquire(host_key(feed.url) or "")  # another fetch of that host
        assert other is not None
        with pytest.raises(HostBusy) as busy:
            run_fetch(ctx, run_id, feed, last_attempt=False)
        assert busy.value.delay_ms >= 1000
        run = history.get_run(store, run_id) or {}
        assert (run["status"], run["fetch_attempts"], server.hits["/jobs.xml"]) == ("queued", 0, 0)

        other.release()
        run_fetch(ctx, run_id, feed, last_attempt=False)
        assert limits.held(host_key(feed.url) or "") == 0  # given back once read
    run = history.get_run(store, run_id) or {}
    assert (run["status"], run["fetch_attempts"], run["fetched"], run["chunks_total"]) == (
        "importing",
        1,
        3,
        1,
    )
