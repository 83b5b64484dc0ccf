"""Schedulers: two at once over several cron slots fetch each feed once per slot; one that finds
MongoDB away at its slot starts it when MongoDB is back."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from devstack.feedserver import FeedServer
from job_importer.db import get_store
from job_importer.settings import FeedConfig
from services.scheduler import slots
from tests.conftest import Workers, wait_for, wait_for_runs
from tests.reliability.faults import CuttableLink
from tests.reliability.harness import (
    Catalog,
    ChangingFeed,
    Figures,
    RunCheck,
    assert_clean,
    check_final_state,
    record,
)
from tests.reliability.test_outages import worker_settings_through

SLOT_S = 5
SLOTS = 4


def write_feeds_file(directory: Path, feeds: list[FeedConfig]) -> Path:
    path = directory / "feeds.toml"
    path.write_text("".join(f'[[feeds]]\nurl = "{feed.url}"\nsource = "{feed.source}"\n\n' for feed in feeds))
    return path


def test_two_schedulers_fetch_each_feed_once_per_slot(
    settings, store, broker, redis_client, feed_server: FeedServer, workers: Workers, tmp_path: Path
) -> None:
    catalog = Catalog(feeds=3, items=100, added_per_version=10, edited_per_version=10)
    for feed in range(catalog.feeds):
        feed_server.routes[catalog.path(feed)] = ChangingFeed(catalog, feed)
    feeds_file = write_feeds_file(tmp_path, catalog.configs(feed_server.url("/")))
    # croniter reads a sixth field as seconds: a slot every SLOT_S seconds.
    config = settings.model_copy(update={"feeds_file": feeds_file, "schedule_cron": f"* * * * * */{SLOT_S}"})
    workers.settings = config
    workers.start_both()
    env = {**os.environ, **config.as_env()}
    started = time.monotonic()
    schedulers = [
        subprocess.Popen([sys.executable, "-m", "cli", "schedule"], env=env, stderr=subprocess.PIPE)
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
            scheduler.send_signal(signal.SIGTERM)  # as Kubernetes stops a pod
        codes = [scheduler.wait(timeout=30) for scheduler in schedulers]
    runs = list(store.runs.find({}, {"feed_url": 1, "created_at": 1}).sort("created_at", 1))
    wait_for_runs(store, [run["_id"] for run in runs], timeout=120)
    finished = time.monotonic()

    checks = []
    for feed, url in enumerate(config.url for config in catalog.configs(feed_server.url("/"))):
        mine = [run["_id"] for run in runs if run["feed_url"] == url]
        checks += [RunCheck(run_id, feed, n, n - 1 if n else None) for n, run_id in enumerate(mine)]
    claimed_slots = len(
        {key for key in redis_client.scan_iter(match=f"{config.queue_namespace}:__schedule__:*")}
    )
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
        slot_claims=claimed_slots,
        fetches_per_feed=[feed_server.hits[catalog.path(feed)] for feed in range(catalog.feeds)],
    )
    record(figures)
    assert_clean(figures)
    assert codes == [0, 0]
    # One run, and one download, per feed per slot: as many as the slots claimed.
    assert per_feed == [per_feed[0]] * catalog.feeds and per_feed[0] >= SLOTS
    assert claimed_slots == per_feed[0] * catalog.feeds
    assert [feed_server.hits[catalog.path(feed)] for feed in range(catalog.feeds)] == per_feed


def start_failing_scheduler(
    settings, broker, stop: threading.Event, caplog: pytest.LogCaptureFixture, *, failures: int, once: bool
) -> threading.Thread:
    """Run a scheduler in a thread and wait until it has failed ``failures`` times to start its slot."""
    thread = threading.Thread(
        target=slots.run_scheduler,
        args=(settings, get_store(settings), broker),
        kwargs={"once": once, "stop": stop},
        daemon=True,
    )
    thread.start()
    wait_for(
        lambda: sum("will try again" in record.getMessage() for record in caplog.records) >= failures,
        30,
        what=f"the scheduler to fail {failures} time(s) at its slot",
    )
    return thread


def test_a_scheduler_that_finds_mongodb_away_at_a_slot_starts_it_once_mongodb_is_back(
    settings,
    store,
    broker,
    redis_client,
    mongo_link: CuttableLink,
    feed_server: FeedServer,
    workers: Workers,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    catalog = Catalog(feeds=3, items=100, added_per_version=10, edited_per_version=10)
    feed_server.routes.update(catalog.routes(0))
    feeds = catalog.configs(feed_server.url("/"))
    # The scheduler (hourly, in this process) reaches MongoDB through the link; the workers do not.
    config = settings.model_copy(update={"feeds_file": write_feeds_file(tmp_path, feeds)})
    cut_off = worker_settings_through(mongo_link, config)
    monkeypatch.setattr(slots, "SLOT_RETRY_S", 0.5)
    workers.start_both()
    started = time.monotonic()
    mongo_link.cut()
    stop = threading.Event()
    with caplog.at_level(logging.WARNING, logger=slots.__name__):
        thread = start_failing_scheduler(cut_off, broker, stop, caplog, failures=2, once=True)
        claims = len(list(redis_client.scan_iter(match=f"{config.queue_namespace}:__schedule__:*")))
        mongo_link.restore()
        back = time.monotonic()
        thread.join(timeout=60)
    stop.set()
    assert not thread.is_alive()
    runs = list(store.runs.find({}, {"feed_url": 1, "trigger": 1}))
    wait_for_runs(store, [run["_id"] for run in runs], timeout=120)
    finished = time.monotonic()

    urls = [feed.url for feed in feeds]
    checks = [RunCheck(run["_id"], urls.index(run["feed_url"]), 0, None) for run in runs]
    outcome = check_final_state(config, store, redis_client, catalog, checks, dict.fromkeys(range(3), 0))
    figures = Figures.of(
        "scheduler with MongoDB away at its slot",
        "the scheduler's MongoDB link cut when its slot came (claims taken, runs not creatable), restored after two failed attempts",
        outcome,
        started=started,
        recovered_from=back,
        finished=finished,
        claims_during_outage=claims,
    )
    record(figures)
    assert_clean(figures)
    assert claims == catalog.feeds  # it had claimed the slot before it could not go on
    assert sorted(run["feed_url"] for run in runs) == sorted(urls)  # each feed started once
    assert {run["trigger"] for run in runs} == {"schedule"}


def test_a_scheduler_stopped_while_mongodb_is_away_gives_its_claims_back(
    settings, broker, redis_client, mongo_link: CuttableLink, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    feeds = [FeedConfig(url=f"http://127.0.0.1:9/feed-{n}.xml") for n in range(3)]
    cut_off = worker_settings_through(
        mongo_link, settings.model_copy(update={"feeds_file": write_feeds_file(tmp_path, feeds)})
    )
    mongo_link.cut()
    stop = threading.Event()
    claims = f"{settings.queue_namespace}:__schedule__:*"
    with caplog.at_level(logging.WARNING, logger=slots.__name__):
        thread = start_failing_scheduler(cut_off, broker, stop, caplog, failures=1, once=False)
        assert len(list(redis_client.scan_iter(match=claims))) == len(feeds)
        stop.set()  # what SIGTERM does in `job-importer schedule`
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert list(redis_client.scan_iter(match=claims)) == []  # a scheduler started next can take the slot
