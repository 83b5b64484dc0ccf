"""The data behind the UI's charts: items per interval from the runs, backlog samples in Redis."""

from __future__ import annotations

import json
import time

from job_importer import backlog, history
from job_importer.keys import Keys
from job_importer.settings import FeedConfig
from job_importer.throughput import items_per_interval


def test_items_land_in_the_interval_their_run_finished_in(settings, store) -> None:
    feeds = [FeedConfig(url=f"http://127.0.0.1:9/{n}") for n in range(3)]
    done, failed, unfinished = history.create_runs(store, feeds, "cli", "b")
    finished = history.now()
    store.runs.update_one(
        {"_id": done},
        {"$set": {"status": "completed", "finished_at": finished, "new": 7, "updated": 2, "failed": 1}},
    )
    store.runs.update_one(
        {"_id": failed}, {"$set": {"status": "failed", "finished_at": finished, "failed": 0}}
    )
    store.runs.update_one({"_id": unfinished}, {"$set": {"status": "importing", "new": 50}})
    buckets = items_per_interval(store, hours=3, bucket_minutes=60)
    assert len(buckets) in (3, 4) and buckets[0]["start"] < buckets[-1]["start"]
    last = buckets[-1]
    assert (last["runs"], last["new"], last["updated"], last["failed"]) == (2, 7, 2, 1)
    assert sum(b["new"] for b in buckets) == 7  # the unfinished run is not drawn yet


def test_one_backlog_sample_per_slot_across_processes(settings, redis_client, broker) -> None:
    keys = Keys(settings.queue_namespace)
    redis_client.rpush(keys.ready(settings.fetch_queue), "m1", "m2")
    now = time.time()
    assert backlog.sample(redis_client, settings, now) is True
    assert backlog.sample(redis_client, settings, now) is False  # another API replica, same slot
    [record] = backlog.read(redis_client, settings.queue_namespace, now - 60)
    assert record["queues"][settings.fetch_queue] == {"ready": 2, "delayed": 0, "in_progress": 0, "dead": 0}
    old = now - settings.backlog_keep_hours * 3600 - 120
    redis_client.zadd(keys.backlog(), {json.dumps({"at": old, "queues": {}}): old})
    assert backlog.sample(redis_client, settings, now + settings.backlog_sample_s) is True
    assert [r["at"] for r in backlog.read(redis_client, settings.queue_namespace, 0)] == [
        round(now, 3),
        round(now + settings.backlog_sample_s, 3),
    ]
