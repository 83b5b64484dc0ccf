"""Two schedulers running at once over several cron slots: each feed is fetched once per slot."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from job_importer.feedserver import FeedServer
from tests.conftest import Workers, wait_for, wait_for_runs
from tests.reliability.harness import (
    Catalog,
    ChangingFeed,
    Figures,
    RunCheck,
    assert_clean,
    check_final_state,
    record,
)

SLOT_S = 5
SLOTS = 4


def test_two_schedulers_fetch_each_feed_once_per_slot(
    settings, store, broker, redis_client, feed_server: FeedServer, workers: Workers, tmp_path: Path
) -> None:
    catalog = Catalog(feeds=3, items=100, added_per_version=10, edited_per_version=10)
    for feed in range(catalog.feeds):
        feed_server.routes[catalog.path(feed)] = ChangingFeed(catalog, feed)
    feeds_file = tmp_path / "feeds.toml"
    feeds_file.write_text(
        "".join(
            f'[[feeds]]\nurl = "{config.url}"\nsource = "{config.source}"\n\n'
            for config in catalog.configs(feed_server.url("/"))
        )
    )
    # croniter reads a sixth field as seconds: a slot every SLOT_S seconds.
    config = settings.model_copy(update={"feeds_file": feeds_file, "schedule_cron": f"* * * * * */{SLOT_S}"})
    workers.settings = config
    workers.start_both()
    env = {**os.environ, **config.as_env()}
    started = time.monotonic()
    schedulers = [
        subprocess.Popen([sys.executable, "-m", "job_importer", "schedule"], env=env, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    try:
        wait_for(
            lambda: store.runs.count_documents({}) >= SLOTS * catalog.feeds,
            (SLOTS + 3) * SLOT_S,
            interval=0.2,
            what=f"{SLOTS} slots",
        )
    finally:
        for scheduler in schedulers:
            scheduler.send_signal(signal.SIGINT)
        codes = [scheduler.wait(timeout=30) for scheduler in schedulers]
    runs = list(store.runs.find({}, {"feed_url": 1, "created_at": 1}).sort("created_at", 1))
    wait_for_runs(store, [run["_id"] for run in runs], timeout=120)
    finished = time.monotonic()

    checks = []
    for feed, url in enumerate(config.url for config in catalog.configs(feed_server.url("/"))):
        mine = [run["_id"] for run in runs if run["feed_url"] == url]
        checks += [RunCheck(run_id, feed, n, n - 1 if n else None) for n, run_id in enumerate(mine)]
    slots = len({key for key in redis_client.scan_iter(match=f"{config.queue_namespace}:__schedule__:*")})
    per_feed = [sum(1 for check in checks if check.feed == feed) for feed in range(catalog.feeds)]
    outcome = check_final_state(
        config,
        store,
        redis_client,
        catalog,
        checks,
        {feed: per_feed[feed] - 1 for feed in range(catalog.feeds)},
    )
    figures = Figures.of(
        "two schedulers at once",
        f"two `job-importer schedule` processes on a {SLOT_S}-second cron for {max(per_feed)} slots; every fetch sees a changed feed",
        outcome,
        started=started,
        recovered_from=None,
        finished=finished,
        runs_per_feed=per_feed,
        slot_claims=slots,
        fetches_per_feed=[feed_server.hits[catalog.path(feed)] for feed in range(catalog.feeds)],
    )
    record(figures)
    assert_clean(figures)
    assert codes == [0, 0]
    # One run, and one download, per feed per slot: as many as the slots claimed.
    assert per_feed == [per_feed[0]] * catalog.feeds and per_feed[0] >= SLOTS
    assert slots == per_feed[0] * catalog.feeds
    assert [feed_server.hits[catalog.path(feed)] for feed in range(catalog.feeds)] == per_feed
