"""Redis at maxmemory (noeviction): every write refused with OutOfMemoryError, then memory freed.

A full Redis is an outage of writes: acknowledgements, enqueues, the rate limiter and heartbeats all
fail while reads work. Before, the failed acks left messages claimed by live workers (never handed
out again), a fetch whose chunks could not be enqueued was dead-lettered with part of its listings
imported, and nothing recovered once memory was freed. Here a real redis-server gets a maxmemory
just above what it holds, an import runs into it, and the ballast that filled it is deleted a few
seconds later: every run must complete exactly, with nothing dead-lettered.
"""

from __future__ import annotations

import time

import redis

from devstack.feedserver import FeedServer
from devstack.stack import start_redis
from job_importer.broker import build_broker
from job_importer.db import Store
from job_importer.trigger import start_import
from tests.conftest import Workers, free_port, wait_for, wait_for_runs
from tests.reliability.harness import Catalog, Figures, RunCheck, assert_clean, check_final_state, record

BALLAST_BYTES = 8 * 1024 * 1024
HEADROOM_BYTES = 300 * 1024  # room for a few chunks: the import fills it mid-way
FULL_FOR_S = 5.0


def refused_writes(client: redis.Redis) -> int:
    """Commands Redis refused for want of memory (INFO errorstats)."""
    stats = client.info("errorstats")
    return int(stats.get("errorstat_OOM", {}).get("count", 0))


def settled_memory(client: redis.Redis) -> int:
    """Redis's used memory once the buffers of the last big write are gone."""
    readings: list[int] = []

    def settled() -> int | None:
        readings.append(int(client.info("memory")["used_memory"]))
        return readings[-1] if len(readings) > 1 and abs(readings[-1] - readings[-2]) < 64 * 1024 else None

    return wait_for(settled, 30, interval=0.5, what="Redis's memory to settle")


def test_redis_at_maxmemory_then_freed_loses_nothing(
    fast_settings, store: Store, feed_server: FeedServer
) -> None:
    port = free_port()
    server = start_redis(port, lambda message: None)
    client = redis.Redis(port=port)
    client.config_set("maxmemory-policy", "noeviction")
    settings = fast_settings.model_copy(
        update={"redis_url": f"redis://127.0.0.1:{port}/0", "worker_rate_limit_max": 5}
    )
    broker = build_broker(settings)
    workers = Workers(settings)
    try:
        catalog = Catalog(feeds=4, items=300)
        feed_server.routes.update(catalog.routes(0))
        workers.start_both()
        client.set("ballast", b"x" * BALLAST_BYTES)
        client.config_set("maxmemory", settled_memory(client) + HEADROOM_BYTES)
        before = refused_writes(client)

        started = time.monotonic()
        run_ids = start_import(settings, store, broker, catalog.configs(feed_server.url("/")), "cli").run_ids
        wait_for(
            lambda: refused_writes(client) - before >= 5, 60, interval=0.05, what="Redis to refuse writes"
        )
        time.sleep(FULL_FOR_S)  # full for a while: acks, enqueues, retries and heartbeats all refused
        refused = refused_writes(client) - before
        client.delete("ballast")
        freed = time.monotonic()
        wait_for_runs(store, run_ids, timeout=120)
        finished = time.monotonic()

        checks = [RunCheck(run_id, feed, 0, None) for feed, run_id in enumerate(run_ids)]
        outcome = check_final_state(settings, store, client, catalog, checks, dict.fromkeys(range(4), 0))
    finally:
        workers.stop_all()
        server.terminate()
        server.wait(timeout=10)
    figures = Figures.of(
        "Redis at maxmemory, then freed",
        f"a redis-server with maxmemory {HEADROOM_BYTES // 1024} KB above its contents and noeviction; "
        f"the import filled it, it refused {refused} writes over {FULL_FOR_S:.0f} s, then the ballast was deleted",
        outcome,
        started=started,
        recovered_from=freed,
        finished=finished,
        refused_writes=refused,
    )
    record(figures)
    assert_clean(figures)
