"""Redis loses its last writes (a power loss, an AOF cut short): runs whose messages are gone.

Redis (AOF on, as the chart runs it) is killed with SIGKILL mid-import and brought back from a copy
of its AOF taken just before the import began, as if its last writes never reached the disk: the
fetches are done, some chunks written, the other chunks gone. Before, those runs stayed "importing"
for ever and the next import got a 304 "not modified" (the fetch had saved the feed's validators),
so the lost listings stayed lost until the feed changed. The scheduler's housekeeping must fail
such runs with the reason and drop their feeds' validators, so that the next import is a full
fetch that puts everything back.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

import redis

from devstack.feedserver import FeedServer
from job_importer.broker import build_broker
from job_importer.db import Store
from job_importer.messages import QueueBrowser
from job_importer.settings import Settings
from job_importer.trigger import start_import
from services.scheduler.slots import run_scheduler
from tests.conftest import Workers, wait_for, wait_for_runs
from tests.reliability.faults import RestartableRedis
from tests.reliability.harness import Catalog, Figures, RunCheck, assert_clean, check_final_state, record

QUIET_S = 3


def waiting_chunks(client: redis.Redis, settings: Settings) -> Counter[str | None]:
    """Chunks per run in the import queue that no worker has fetched yet."""
    ready, _ = QueueBrowser.of(client, settings, settings.import_queue).list("ready", limit=10_000)
    return Counter(message.run_id for message in ready)


def test_runs_whose_messages_redis_lost_are_failed_and_their_feeds_fetched_in_full(
    fast_settings, store: Store, feed_server: FeedServer, tmp_path: Path
) -> None:
    aof = RestartableRedis().start()
    no_feeds = tmp_path / "feeds.toml"
    no_feeds.write_text("")  # the scheduler here only does its housekeeping
    settings = fast_settings.model_copy(
        update={
            "redis_url": aof.url,
            "worker_batch_size": 20,
            "worker_rate_limit_max": 4,  # 30 chunks at 4 a second: Redis dies mid-way
            "stranded_run_after_s": QUIET_S,
            "feeds_file": no_feeds,
        }
    )
    broker = build_broker(settings)
    client = redis.Redis.from_url(aof.url)
    workers = Workers(settings)
    catalog = Catalog(feeds=2, items=300)
    feeds = catalog.configs(feed_server.url("/"))
    feed_server.routes.update(catalog.routes(0))
    try:
        workers.start_both()
        time.sleep(1.5)  # appendfsync everysec: what is in Redis now is on disk
        on_disk = Path(tempfile.mkdtemp(prefix="job-importer-aof-copy-"))
        shutil.copytree(aof.data_dir, on_disk, dirs_exist_ok=True)

        started = time.monotonic()
        lost_runs = start_import(settings, store, broker, feeds, "cli").run_ids

        def half_way() -> bool:
            """Some chunks written, both fetches done, and each run with chunks that no worker holds:
            the power loss must take some of both runs' chunks (a run whose remaining chunks all sat
            in a worker's memory, or were sent after the restart, would complete instead)."""
            runs = list(store.runs.find({"_id": {"$in": lost_runs}}))
            waiting = waiting_chunks(client, settings)
            return (
                sum(run["chunks_accounted"] for run in runs) >= 2
                and all(run["status"] == "importing" for run in runs)
                and all(waiting[run_id] >= 3 for run_id in lost_runs)
            )

        wait_for(half_way, 60, interval=0.05, what="the import to be half-way")
        assert aof.process is not None
        aof.process.kill()  # the power goes
        aof.process.wait(timeout=10)
        shutil.rmtree(aof.data_dir)
        shutil.copytree(on_disk, aof.data_dir)  # the AOF as it was on disk before the import
        aof.start()
        workers.wait_ready("importer")
        stuck = [run["status"] for run in store.runs.find({"_id": {"$in": lost_runs}})]

        back = time.monotonic()

        def repaired_by_housekeeping() -> bool:  # the scheduler's: its slot (no feeds), then housekeeping
            run_scheduler(settings, store, broker, once=True)
            return store.runs.count_documents({"_id": {"$in": lost_runs}, "status": "failed"}) == len(
                lost_runs
            )

        # Chunks the workers held in memory are written once Redis is back: then the runs go quiet.
        wait_for(repaired_by_housekeeping, 60, interval=1, what="the housekeeping to repair the runs")
        repaired = time.monotonic()
        failed = list(store.runs.find({"_id": {"$in": lost_runs}}))
        validators_left = store.feed_state.count_documents({})

        next_runs = start_import(settings, store, broker, feeds, "cli").run_ids
        wait_for_runs(store, next_runs, timeout=120)
        finished = time.monotonic()
        next_docs = list(store.runs.find({"_id": {"$in": next_runs}}))
        outcome = check_final_state(
            settings,
            store,
            client,
            catalog,
            # The lost runs too, so that listings they counted as new count once over all four runs.
            [
                RunCheck(run_id, feed, None)
                for run_ids in (lost_runs, next_runs)
                for feed, run_id in enumerate(run_ids)
            ],
            dict.fromkeys(range(catalog.feeds), 0),
        )
        # ...but they are failed and cannot add up: that part is asserted below instead.
        outcome.problems = [
            p for p in outcome.problems if not p.startswith(tuple(f"run {r} " for r in lost_runs))
        ]
    finally:
        workers.stop_all()
        aof.stop()

    assert stuck == ["importing", "importing"]  # what the lost writes left behind
    assert [run["status"] for run in failed] == ["failed", "failed"], failed
    assert all("none of this run's messages are in Redis" in run["error"] for run in failed)
    assert validators_left == 0
    assert [(run["not_modified"], run["fetched"]) for run in next_docs] == [(False, 300), (False, 300)]
    figures = Figures.of(
        "Redis loses its last writes (power loss)",
        "redis-server killed with SIGKILL half-way through an import of 2 feeds and restarted from its "
        "AOF as it was before the import: both runs' remaining chunks gone",
        outcome,
        started=started,
        recovered_from=back,
        finished=finished,
        lost_chunks=sum(run["chunks_total"] - run["chunks_accounted"] for run in failed),
        repaired_after_s=round(repaired - back, 1),
    )
    record(figures)
    assert_clean(figures)
