"""A worker for the crash-guard test: its actor kills its own process when asked to, as the
out-of-memory killer would; otherwise it marks its key done.

    python -m dramatiq tests.reliability.crashing_actors --queues crash-test
"""

from __future__ import annotations

import os
import signal

import dramatiq
import redis

from job_importer.settings import get_settings
from job_importer.worker import worker_broker

CRASH_QUEUE = "crash-test"

settings = get_settings()
broker = worker_broker(settings)


@dramatiq.actor(actor_name="die_or_mark", queue_name=CRASH_QUEUE, max_retries=0)
def die_or_mark(action: str, key: str) -> None:
    if action == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    redis.Redis.from_url(settings.redis_url).set(key, "done")
