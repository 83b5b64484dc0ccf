"""Broker setup shared by both services: one Redis broker, the same middleware everywhere."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import dramatiq
import msgspec
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Middleware,
    Pipelines,
    ShutdownNotifications,
    TimeLimit,
)

from job_importer import metrics
from job_importer.contract import IMPORT_ACTOR
from job_importer.durability import DurableRedisBroker, DurableRetries
from job_importer.settings import Settings


def build_broker(settings: Settings, extra_middleware: list[Middleware] | None = None) -> RedisBroker:
    """A Redis broker with our retry policy, set as Dramatiq's global broker."""
    from job_importer.control import WorkerControl
    from job_importer.crashguard import CrashGuard
    from job_importer.deadletters import DeadLetterAccounting

    middleware: list[Middleware] = [
        CrashGuard(settings),  # first: a message that keeps killing workers must not get further
        AgeLimit(),
        TimeLimit(time_limit=15 * 60 * 1000),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        CurrentMessage(),
        # Before Retries: "after" hooks run in reverse order, so this one sees what Retries gave up on.
        DeadLetterAccounting(settings),
        DurableRetries(
            max_retries=settings.import_max_retries,
            min_backoff=settings.retry_base_ms,
            max_backoff=settings.retry_max_ms,
        ),
        WorkerControl(settings),
        *(extra_middleware or []),
    ]
    broker = DurableRedisBroker(
        url=settings.redis_url,
        namespace=settings.queue_namespace,
        middleware=middleware,
        heartbeat_timeout=settings.heartbeat_timeout_ms,
        maintenance_chance=settings.maintenance_chance,
        dead_message_ttl=settings.dead_message_ttl_ms,
    )
    dramatiq.set_broker(broker)
    dramatiq.set_encoder(JSONEncoder())
    return broker


class JSONEncoder(dramatiq.Encoder):
    """Messages as JSON, like Dramatiq's own encoder, but fast and able to embed items that are
    JSON already (``msgspec.Raw``), so a chunk's items are never encoded twice. Messages
    written by either encoder read the same with both."""

    def encode(self, data: dict[str, Any]) -> bytes:
        try:
            return msgspec.json.encode(data)
        except UnicodeEncodeError:  # lone surrogates: msgspec refuses them, Dramatiq's encoder escapes them
            return json.dumps(data, separators=(",", ":"), default=_embedded).encode()

    def decode(self, data: bytes) -> dict[str, Any]:
        try:
            return msgspec.json.decode(data)
        except msgspec.DecodeError:
            return json.loads(data)  # e.g. escaped lone surrogates, which the stdlib reads


def _embedded(value: Any) -> Any:
    if isinstance(value, msgspec.Raw):
        return json.loads(bytes(value))
    raise TypeError(f"cannot encode {type(value).__name__}")


def chunk_message(
    settings: Settings,
    *,
    run_id: str,
    seq: int,
    feed_url: str,
    fetched_at: datetime,
    items: list[bytes],
    attempt: int | None = None,
) -> dramatiq.Message[Any]:
    """The importer message for one chunk (a :class:`~job_importer.contract.Chunk` once decoded),
    addressed by actor name: the fetcher never imports the importer. ``items`` are JSON already."""
    chunk = {
        "run_id": run_id,
        "attempt": attempt,
        "seq": seq,
        "feed_url": feed_url,
        "fetched_at": fetched_at,
        "items": [msgspec.Raw(item) for item in items],
    }
    return dramatiq.Message(
        queue_name=settings.import_queue,
        actor_name=IMPORT_ACTOR,
        args=(chunk,),
        kwargs={},
        options={"max_retries": settings.import_max_retries},
    )


def worker_broker(settings: Settings) -> RedisBroker:
    """The broker of a worker process: ours plus, when metrics are on, Dramatiq's Prometheus exporter.

    It serves /metrics on ``dramatiq_prom_port`` from the multiprocess files in ``dramatiq_prom_db``;
    both are set per service by ``workers.worker_env`` before the process starts.
    """
    metrics.configure_feeds(settings.feed_configs())  # their URLs become `feed` label values
    if not settings.metrics_enabled:
        return build_broker(settings)
    from dramatiq.middleware.prometheus import Prometheus  # reads its environment on import

    return build_broker(settings, [Prometheus()])
