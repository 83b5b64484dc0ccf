"""Queue depth per queue: ready, delayed (incl. retrying), in progress, dead; and pause state."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any, cast

import dramatiq
import redis

from job_importer.control import paused_queues
from job_importer.deadletters import claims_key, count_dead
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
    paused = paused_queues(client, namespace)
    stats = []
    for queue in queue_names(settings):
        claimed = 0
        for key in client.scan_iter(match=claims_key(namespace, "*", queue), count=500):
            claimed += int(client.scard(key))
        stats.append(
            QueueStats(
                queue=queue,
                ready=int(client.llen(f"{namespace}:{queue}")),
                delayed=int(client.hlen(f"{namespace}:{queue}.DQ.msgs")),
                in_progress=claimed,
                dead=count_dead(client, namespace, queue),
                paused=queue in paused,
            )
        )
    return stats


def oldest_ready_age_s(client: redis.Redis, namespace: str, queue: str) -> float:
    """Seconds since the message at the head of the queue was first enqueued; 0 when it is empty."""
    head = client.lindex(f"{namespace}:{queue}", 0)
    raw = client.hget(f"{namespace}:{queue}.msgs", cast(bytes, head)) if head is not None else None
    if raw is None:
        return 0.0
    message = dramatiq.Message.decode(cast(bytes, raw))
    return max(0.0, time.time() - message.message_timestamp / 1000)
