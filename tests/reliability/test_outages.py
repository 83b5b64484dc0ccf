"""Infrastructure going away mid-import: Redis restarted (AOF on), MongoDB unreachable for a while."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
import redis

from devstack.feedserver import FeedServer, Reply, Request
from job_importer.accounting import reconcile_dead_letters
from job_importer.broker import build_broker
from job_importer.control import pause, resume, worker_states
from job_importer.deadletters import DeadLetters
from job_importer.queues import queue_stats
from job_importer.trigger import start_import
from tests.conftest import Workers, wait_for, wait_for_runs
from tests.reliability.faults import CuttableLink, RestartableRedis, through
from tests.reliability.harness import Catalog, Figures, RunCheck, assert_clean, check_final_state, record

OUTAGE_S = 3.0


@pytest.fixture
def aof_redis() -> Iterator[RestartableRedis]:
    server = RestartableRedis().start()
    yield server
    server.stop()


def stats_of(client: redis.Redis, settings) -> dict[str, dict[str, int]]:
    return {stat.queue: stat.as_dict() for stat in queue_stats(client, settings)}


def late_once(body: bytes, retry_after_s: int) -> Callable[[Request], Reply]:
    """A feed that says "429, come back in N seconds" once: its fetch waits as a delayed message."""
    calls = {"n": 0}

    def route(request: Request) -> Reply:
        calls["n"] += 1
        if calls["n"] == 1:
            return Reply(status=429, headers={"Retry-After": str(retry_after_s)}, content_type="text/plain")
        return Reply(body=body)

    return route


def test_redis_restarted_mid_import_keeps_queued_and_delayed_messages(
    aof_redis: RestartableRedis, settings, store, feed_server: FeedServer, workers: Workers
) -> None:
    settings = settings.model_copy(
        update={"redis_url": aof_redis.url, "worker_batch_size": 20, "worker_rate_limit_max": 8}
    )
    broker = build_broker(settings)
    client = redis.Redis.from_url(aof_redis.url)
    workers.settings = settings
    catalog = Catalog(feeds=3, items=300)
    feeds = catalog.configs(feed_server.url("/"))
    feed_server.routes.update(catalog.routes(0))
    workers.start_both()
    started = time.monotonic()
    baseline = start_import(settings, store, broker, feeds, "cli").run_ids
    checks = [RunCheck(run_id, feed, 0, None) for feed, run_id in enumerate(baseline)]
    wait_for_runs(store, baseline, timeout=120)

    feed_server.routes.update(catalog.routes(1))
    feed_server.routes[catalog.path(2)] = late_once(catalog.body(2, 1), retry_after_s=8)
    run_ids = start_import(settings, store, broker, feeds, "cli").run_ids
    checks += [RunCheck(run_id, feed, 1, 0) for feed, run_id in enumerate(run_ids)]
    delay_list = f"{settings.queue_namespace}:{settings.fetch_queue}.DQ"
    before = wait_for(
        lambda: (
            (stats := stats_of(client, settings))[settings.fetch_queue]["delayed"] >= 1
            and client.llen(delay_list) == 0  # the delayed fetch is held (claimed) by the fetcher
            and stats[settings.import_queue]["ready"] >= 5
            and stats
        ),
        60,
        interval=0.02,
        what="queued chunks and a delayed fetch held by a worker",
    )
    aof_redis.stop()
    time.sleep(OUTAGE_S)  # the outage itself: workers see connection errors meanwhile
    aof_redis.start()
    back = time.monotonic()
    after = stats_of(client, settings)
    wait_for_runs(store, run_ids, timeout=180)
    finished = time.monotonic()

    outcome = check_final_state(settings, store, client, catalog, checks, dict.fromkeys(range(3), 1))
    figures = Figures.of(
        "Redis restart (AOF)",
        f"redis-server stopped for {OUTAGE_S:.0f} s and restarted from its AOF mid-import, with "
        f"{before[settings.import_queue]['ready']} chunks queued and {before[settings.fetch_queue]['delayed']} fetch delayed by Retry-After (held by a worker)",
        outcome,
        started=started,
        recovered_from=back,
        finished=finished,
        before_restart=before,
        after_restart=after,
    )
    record(figures)
    assert_clean(figures)


def worker_settings_through(link: CuttableLink, settings, **overrides):
    """Settings for workers that reach MongoDB through ``link`` (the test itself uses the direct URL)."""
    return settings.model_copy(
        update={"mongodb_url": through(link, settings.mongodb_url), "mongodb_timeout_ms": 1000, **overrides}
    )


def watch_delayed(client: redis.Redis, settings, stop: threading.Event) -> list[int]:
    """Sample the delayed (retrying) import messages until ``stop``; returns the samples."""
    samples: list[int] = []

    def sample() -> None:
        while not stop.wait(0.1):
            samples.append(stats_of(client, settings)[settings.import_queue]["delayed"])

    threading.Thread(target=sample, daemon=True).start()
    return samples


def test_mongodb_unreachable_longer_than_one_attempt_then_back(
    settings, store, broker, redis_client, mongo_link: CuttableLink, feed_server: FeedServer, workers: Workers
) -> None:
    outage_s = 6.0
    workers.settings = worker_settings_through(
        mongo_link,
        settings,
        worker_batch_size=20,
        worker_rate_limit_max=10,
        import_max_retries=10,
        fetch_max_retries=10,
        retry_base_ms=200,
        retry_max_ms=2000,
    )
    catalog = Catalog(feeds=3, items=300)
    feeds = catalog.configs(feed_server.url("/"))
    feed_server.routes.update(catalog.routes(0))
    workers.start_both()
    started = time.monotonic()
    baseline = start_import(settings, store, broker, feeds, "cli").run_ids
    checks = [RunCheck(run_id, feed, 0, None) for feed, run_id in enumerate(baseline)]
    wait_for_runs(store, baseline, timeout=120)

    feed_server.routes.update(catalog.routes(1))
    run_ids = start_import(settings, store, broker, feeds, "cli").run_ids
    checks += [RunCheck(run_id, feed, 1, 0) for feed, run_id in enumerate(run_ids)]
    wait_for(
        lambda: sum(run["chunks_accounted"] for run in store.runs.find({"_id": {"$in": run_ids}})) >= 3,
        60,
        interval=0.02,
        what="the import to be under way",
    )
    stop = threading.Event()
    delayed = watch_delayed(redis_client, settings, stop)
    mongo_link.cut()
    time.sleep(outage_s)  # the outage itself
    mongo_link.restore()
    back = time.monotonic()
    wait_for_runs(store, run_ids, timeout=180)
    stop.set()
    finished = time.monotonic()

    outcome = check_final_state(settings, store, redis_client, catalog, checks, dict.fromkeys(range(3), 1))
    figures = Figures.of(
        "MongoDB unreachable, then back",
        f"the workers' MongoDB connections reset and refused for {outage_s:.0f} s (one attempt gives up after 1 s) mid-import",
        outcome,
        started=started,
        recovered_from=back,
        finished=finished,
        most_messages_retrying=max(delayed, default=0),
    )
    record(figures)
    assert_clean(figures)
    assert max(delayed, default=0) > 0  # messages did fail and wait to be retried with backoff


def test_mongodb_unreachable_beyond_all_attempts_dead_letters_then_requeue_completes(
    settings, store, broker, redis_client, mongo_link: CuttableLink, feed_server: FeedServer, workers: Workers
) -> None:
    workers.settings = worker_settings_through(
        mongo_link,
        settings,
        worker_batch_size=50,
        import_max_retries=1,
        fetch_max_retries=1,
        retry_base_ms=100,
    )
    catalog = Catalog(feeds=3, items=300)
    feeds = catalog.configs(feed_server.url("/"))
    feed_server.routes.update(catalog.routes(0))
    workers.start_both()
    started = time.monotonic()

    # Two feeds get as far as queueing their chunks; then MongoDB goes away for good.
    pause(redis_client, settings.queue_namespace, [settings.import_queue])
    wait_for(
        lambda: worker_states(redis_client, settings.queue_namespace, settings.import_queue) == ["paused"]
    )
    chunked = start_import(settings, store, broker, feeds[:2], "cli").run_ids
    wait_for(lambda: store.runs.count_documents({"_id": {"$in": chunked}, "status": "importing"}) == 2, 60)
    total_chunks = sum(run["chunks_total"] for run in store.runs.find({"_id": {"$in": chunked}}))
    mongo_link.cut()
    resume(redis_client, settings.queue_namespace, [settings.import_queue])
    [unfetched] = start_import(settings, store, broker, feeds[2:], "cli").run_ids  # its fetch dies too
    checks = [RunCheck(run_id, feed, 0, None) for feed, run_id in enumerate([*chunked, unfetched])]

    def dead() -> tuple[int, int]:
        stats = stats_of(redis_client, settings)
        return stats[settings.fetch_queue]["dead"], stats[settings.import_queue]["dead"]

    wait_for(lambda: dead() == (1, total_chunks), 120, what="every message to be dead-lettered")
    letters = [
        *DeadLetters(redis_client, settings.queue_namespace, settings.fetch_queue).list(),
        *DeadLetters(redis_client, settings.queue_namespace, settings.import_queue).list(),
    ]
    mongo_link.restore()
    # What the scheduler's housekeeping does: account for the dead letters the workers could not.
    reconcile_dead_letters(settings, store, broker)
    accounted = {run["_id"]: run for run in store.runs.find({"_id": {"$in": [*chunked, unfetched]}})}
    requeued_at = time.monotonic()
    requeued = sum(
        DeadLetters.of(broker, queue).requeue(broker)
        for queue in (settings.fetch_queue, settings.import_queue)
    )
    wait_for(
        lambda: (
            store.runs.count_documents(
                {"_id": {"$in": [*chunked, unfetched]}, "status": "completed", "failed": 3}
            )
            == 3
        ),
        180,
        what="the requeued messages to complete their runs",
    )
    finished = time.monotonic()

    outcome = check_final_state(settings, store, redis_client, catalog, checks, dict.fromkeys(range(3), 0))
    figures = Figures.of(
        "MongoDB unreachable beyond the retries: dead letters, requeue",
        f"MongoDB cut for good mid-import with 1 retry allowed: {total_chunks} chunks and 1 fetch dead-lettered; then restored, accounted, requeued",
        outcome,
        started=started,
        recovered_from=requeued_at,
        finished=finished,
        dead_letters=len(letters),
        requeued=requeued,
    )
    record(figures)
    assert_clean(figures)
    assert all(
        "ServerSelectionTimeoutError" in letter.reason or "AutoReconnect" in letter.reason
        for letter in letters
    ), [letter.reason for letter in letters]
    # While dead, the chunks' items counted as failed and the unfetched run failed with the reason.
    for run_id in chunked:
        run = accounted[run_id]
        assert run["status"] == "completed" and run["failed"] == run["fetched"] and run["new"] == 0, run
    assert accounted[unfetched]["status"] == "failed" and "dead-lettered" in accounted[unfetched]["error"]
