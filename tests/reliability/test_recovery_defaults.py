"""Crash recovery with the shipped defaults: a killed worker's claimed messages come back within
about HEARTBEAT_TIMEOUT_MS (60 s) plus MAINTENANCE_INTERVAL_MS (5 s).

Dramatiq's own redelivery runs only when a dispatch draws its maintenance (MAINTENANCE_CHANCE, 1,000
per million, on that dispatch's queue only): the other scenarios use a 3 s heartbeat and a 20% chance,
and with the defaults this took 320 s in one sample and never happened in another. Here the importer
is killed with everything it prefetched claimed, and nothing but the defaults brings it back.
"""

from __future__ import annotations

import time

from devstack.feedserver import FeedServer
from job_importer.settings import Settings
from job_importer.trigger import start_import
from tests.conftest import Workers, wait_for, wait_for_runs
from tests.reliability.harness import Catalog, Figures, RunCheck, assert_clean, check_final_state, record
from tests.reliability.test_worker_crashes import in_progress

#: The shipped defaults the test settings change (MAINTENANCE_INTERVAL_MS keeps its default, 5 s).
DEFAULTS = {
    name: Settings.model_fields[name].default for name in ("heartbeat_timeout_ms", "maintenance_chance")
}
#: Comfortably above heartbeat + interval: the outcome is asserted, the time is reported.
DEADLINE_S = DEFAULTS["heartbeat_timeout_ms"] / 1000 + 50


def test_a_killed_importers_chunks_come_back_with_the_default_settings(
    settings, store, broker, redis_client, feed_server: FeedServer, workers: Workers
) -> None:
    # Small chunks, slow writes (2 a second): the importer holds most of them when it dies.
    settings = settings.model_copy(update={**DEFAULTS, "worker_batch_size": 20, "worker_rate_limit_max": 2})
    workers.settings = settings
    catalog = Catalog(feeds=2, items=200)
    feed_server.routes.update(catalog.routes(0))
    workers.start("fetcher")
    importer = workers.start("importer")
    workers.wait_ready("fetcher")
    workers.wait_ready("importer")

    started = time.monotonic()
    run_ids = start_import(settings, store, broker, catalog.configs(feed_server.url("/")), "cli").run_ids
    wait_for(
        lambda: in_progress(redis_client, settings, settings.import_queue) >= 5, 60, what="claimed chunks"
    )
    claimed = in_progress(redis_client, settings, settings.import_queue)
    workers.kill(importer)
    killed = time.monotonic()
    workers.start("importer")
    wait_for_runs(store, run_ids, timeout=DEADLINE_S)
    finished = time.monotonic()

    checks = [RunCheck(run_id, feed, 0, None) for feed, run_id in enumerate(run_ids)]
    outcome = check_final_state(settings, store, redis_client, catalog, checks, {0: 0, 1: 0})
    figures = Figures.of(
        "crash recovery with the default settings",
        f"kill -9 of the only importer holding {claimed} claimed chunks; HEARTBEAT_TIMEOUT_MS=60000, "
        "MAINTENANCE_CHANCE=1000, MAINTENANCE_INTERVAL_MS=5000 (the defaults)",
        outcome,
        started=started,
        recovered_from=killed,
        finished=finished,
        claimed_at_kill=claimed,
    )
    record(figures)
    assert_clean(figures)
