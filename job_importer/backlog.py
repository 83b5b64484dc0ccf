"""Queue backlog over time, for the UI's chart: a sample of every queue's counts each minute.

Nothing else keeps this history when Prometheus is not there, so the API samples it: every
``BACKLOG_SAMPLE_S`` one API process (whichever claims the slot first, so several replicas write
one sample) adds ``{"at", "queues": {q: {ready, delayed, in_progress, dead}}}`` to a sorted set
scored by time, trimmed to ``BACKLOG_KEEP_HOURS``. A Redis outage only leaves a gap.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, cast

import redis

from job_importer.keys import Keys
from job_importer.queues import queue_stats
from job_importer.settings import Settings

log = logging.getLogger(__name__)
STATES = ("ready", "delayed", "in_progress", "dead")


def sample(client: redis.Redis, settings: Settings, now: float | None = None) -> bool:
    """Record the current counts unless another process did for this slot; True when written."""
    at = time.time() if now is None else now
    slot = int(at // settings.backlog_sample_s)
    keys = Keys(settings.queue_namespace)
    if not client.set(keys.backlog_slot(slot), "1", nx=True, ex=max(2 * settings.backlog_sample_s, 10)):
        return False
    counts = {
        stat.queue: {state: getattr(stat, state) for state in STATES}
        for stat in queue_stats(client, settings)
    }
    record = json.dumps({"at": round(at, 3), "queues": counts}, separators=(",", ":"))
    with client.pipeline(transaction=False) as pipe:
        pipe.zadd(keys.backlog(), {record: at})
        pipe.zremrangebyscore(keys.backlog(), "-inf", at - settings.backlog_keep_hours * 3600)
        pipe.execute()
    return True


def read(client: redis.Redis, namespace: str, since: float) -> list[dict[str, Any]]:
    """The samples since ``since`` (a Unix time), oldest first."""
    raws = cast(list[bytes], client.zrangebyscore(Keys(namespace).backlog(), since, "+inf"))
    return [json.loads(raw) for raw in raws]


class BacklogSampler:
    """A daemon thread that samples every BACKLOG_SAMPLE_S until stopped."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="backlog-sampler")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            try:
                sample(self.client, self.settings)
            except redis.RedisError as exc:
                log.debug("backlog sample skipped: %s", exc)
            if self._stop.wait(self.settings.backlog_sample_s):
                return
