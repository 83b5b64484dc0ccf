"""Queue depth per queue: ready, delayed (incl. retrying), in progress, dead; and pause state.

Read from Dramatiq's keys (:mod:`job_importer.keys`) by the CLI, the API and, at scrape time,
:class:`QueueCollector`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, cast

import dramatiq
import redis
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from job_importer.control import paused_queues
from job_importer.deadletters import DeadLetters
from job_importer.keys import Keys
from job_importer.settings import Settings


@dataclass(frozen=True)
class QueueStats:
    queue: str
    ready: int  # waiting to be picked up
    delayed: int  # waiting for their time: retries with backoff, Retry-After
    in_progress: int  # claimed by a worker (being processed or prefetched)
    dead: int  # in the dead-letter queue
    paused: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def queue_names(settings: Settings) -> list[str]:
    return [settings.fetch_queue, settings.import_queue]


def queue_stats(client: redis.Redis, settings: Settings) -> list[QueueStats]:
    namespace = settings.queue_namespace
    keys = Keys(namespace)
    paused = paused_queues(client, namespace)
    stats = []
    for queue in queue_names(settings):
        claimed = 0
        for key in client.scan_iter(match=keys.claims("*", queue), count=500):
            claimed += int(client.scard(key))
        stats.append(
            QueueStats(
                queue=queue,
                ready=int(client.llen(keys.ready(queue))),
                delayed=int(client.hlen(keys.delayed_messages(queue))),
                in_progress=claimed,
                dead=DeadLetters(client, namespace, queue).count(),
                paused=queue in paused,
            )
        )
    return stats


def oldest_ready_age_s(client: redis.Redis, namespace: str, queue: str) -> float:
    """Seconds since the message at the head of the queue was first enqueued; 0 when it is empty."""
    keys = Keys(namespace)
    head = client.lindex(keys.ready(queue), 0)
    raw = client.hget(keys.messages(queue), cast(bytes, head)) if head is not None else None
    if raw is None:
        return 0.0
    message = dramatiq.Message.decode(cast(bytes, raw))
    return max(0.0, time.time() - message.message_timestamp / 1000)


class QueueCollector(Collector):
    """Queue depth per queue and state, and the age of the oldest ready message, read at scrape time."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    def describe(self) -> list[Metric]:
        return []  # nothing to read from Redis when the collector is registered

    def collect(self) -> Iterator[Metric]:
        messages = GaugeMetricFamily(
            "job_importer_queue_messages",
            "Messages per queue and state: ready, delayed (incl. retrying), in_progress, dead.",
            labels=["queue", "state"],
        )
        oldest = GaugeMetricFamily(
            "job_importer_queue_oldest_message_age_seconds",
            "Age of the message at the head of the queue (0 when empty).",
            labels=["queue"],
        )
        for stat in queue_stats(self.client, self.settings):
            for state in ("ready", "delayed", "in_progress", "dead"):
                messages.add_metric([stat.queue, state], getattr(stat, state))
            oldest.add_metric(
                [stat.queue], oldest_ready_age_s(self.client, self.settings.queue_namespace, stat.queue)
            )
        yield messages
        yield oldest
        yield from redis_memory(self.client)


def redis_memory(client: redis.Redis) -> Iterator[Metric]:
    """Redis's used memory and its maxmemory (0: no limit), for the alert before writes fail."""
    info = cast(dict[str, Any], client.info("memory"))
    used = GaugeMetricFamily("job_importer_redis_memory_used_bytes", "Memory Redis uses (INFO used_memory).")
    used.add_metric([], float(info.get("used_memory", 0)))
    limit = GaugeMetricFamily(
        "job_importer_redis_memory_max_bytes",
        "Redis's maxmemory (0: none). At it, with noeviction, every write fails until memory is freed.",
    )
    limit.add_metric([], float(info.get("maxmemory", 0)))
    yield used
    yield limit
