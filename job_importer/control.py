"""Worker control through Redis: pause/resume per queue, and which workers are alive.

The paused queues are a Redis set; each worker process polls it once a second and pauses its
own Dramatiq worker while a queue it consumes is paused (messages stay in Redis meanwhile;
prefetched ones stay claimed and are redelivered if the process dies). On the same tick it
refreshes a short-lived presence key per queue, which `live_workers` counts.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterable
from contextlib import suppress
from typing import TYPE_CHECKING, cast

import redis
from dramatiq.middleware import Middleware

from job_importer.keys import Keys, redis_of
from job_importer.settings import Settings

if TYPE_CHECKING:
    from dramatiq.broker import Broker
    from dramatiq.worker import Worker

POLL_SECONDS = 1.0
PRESENCE_TTL_S = 5
log = logging.getLogger(__name__)


def pause(client: redis.Redis, namespace: str, queues: Iterable[str]) -> None:
    names = list(queues)
    if names:
        client.sadd(Keys(namespace).paused(), *names)


def resume(client: redis.Redis, namespace: str, queues: Iterable[str]) -> None:
    names = list(queues)
    if names:
        client.srem(Keys(namespace).paused(), *names)


def paused_queues(client: redis.Redis, namespace: str) -> set[str]:
    return {
        name.decode() if isinstance(name, bytes) else name
        for name in client.smembers(Keys(namespace).paused())
    }


def worker_states(client: redis.Redis, namespace: str, queue: str) -> list[str]:
    """ "running" or "paused" for each worker process seen on ``queue`` in the last few seconds."""
    keys = list(client.scan_iter(match=Keys(namespace).presence(queue), count=500))
    values = cast(list[bytes | None], client.mget(keys)) if keys else []
    return [value.decode() for value in values if value is not None]


def live_workers(client: redis.Redis, namespace: str, queue: str) -> int:
    return len(worker_states(client, namespace, queue))


class WorkerControl(Middleware):
    """Pauses this process's worker while one of its queues is paused; announces it is alive."""

    def __init__(self, settings: Settings) -> None:
        self.namespace = settings.queue_namespace
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._presence: list[str] = []

    def after_worker_boot(self, broker: Broker, worker: Worker) -> None:
        consumed = set(worker.consumer_whitelist or broker.get_declared_queues())
        me = f"{socket.gethostname()}-{os.getpid()}"
        self._presence = [Keys(self.namespace).presence(queue, me) for queue in consumed]
        self._thread = threading.Thread(
            target=self._watch, args=(broker, worker, consumed), daemon=True, name="worker-control"
        )
        self._thread.start()

    def before_worker_shutdown(self, broker: Broker, worker: Worker) -> None:
        """Stop announcing, and withdraw at once: a stopped worker must not look alive for seconds."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._presence:
            with suppress(redis.RedisError):
                redis_of(broker).delete(*self._presence)

    def _watch(self, broker: Broker, worker: Worker, consumed: set[str]) -> None:
        paused = False
        while True:
            try:
                want = bool(consumed & paused_queues(redis_of(broker), self.namespace))
            except redis.RedisError:
                want = paused  # keep the current state while Redis is away
            if want and not paused:
                log.info("pausing: queue(s) %s paused", sorted(consumed))
                worker.pause()  # returns once every thread has finished its message and stopped
            elif paused and not want:
                log.info("resuming")
                worker.resume()
            paused = want
            try:
                with redis_of(broker).pipeline(transaction=False) as pipe:
                    for key in self._presence:
                        pipe.set(key, "paused" if paused else "running", ex=PRESENCE_TTL_S)
                    pipe.execute()
            except redis.RedisError:
                pass
            if self._stop.wait(POLL_SECONDS):
                return
