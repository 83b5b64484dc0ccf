"""The schedule: exactly one run per feed per slot, however many schedulers run."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

from job_importer.settings import Settings
from services.scheduler.slots import current_slot, next_slot


def test_slots_follow_the_cron_expression() -> None:
    at = datetime(2026, 11, 28, 10, 35, 12, tzinfo=UTC)
    assert current_slot("0 * * * *", at) == datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    assert current_slot("0 * * * *", datetime(2026, 11, 28, 10, 0, tzinfo=UTC)) == datetime(
        2026, 11, 28, 10, 0, tzinfo=UTC
    )
    assert next_slot("0 * * * *", at) == datetime(2026, 11, 28, 11, 0, tzinfo=UTC)
    assert next_slot("*/15 * * * *", at) == datetime(2026, 11, 28, 10, 45, tzinfo=UTC)


def test_concurrent_schedulers_enqueue_each_feed_once_per_slot(
    settings: Settings, store, broker, redis_client
) -> None:
    feeds = [f"http://127.0.0.1:9/feed-{n}.xml" for n in range(5)]
    env = {**os.environ, **settings.model_copy(update={"feeds": feeds}).as_env()}
    schedulers = [
        subprocess.Popen([sys.executable, "-m", "cli", "schedule", "--once"], env=env, stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    for process in schedulers:
        assert process.wait(timeout=60) == 0, process.stderr.read() if process.stderr else ""
    runs = list(store.runs.find({}, {"feed_url": 1, "trigger": 1}))
    assert sorted(run["feed_url"] for run in runs) == sorted(feeds)
    assert {run["trigger"] for run in runs} == {"schedule"}
    assert redis_client.llen(f"{settings.queue_namespace}:{settings.fetch_queue}") == len(feeds)
