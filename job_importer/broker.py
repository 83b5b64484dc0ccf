"""Broker setup shared by both services: one Redis broker, the same middleware everywhere."""

from __future__ import annotations

import json
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

from job_importer.accounting import DeadLetterAccounting
from job_importer.control import WorkerControl
from job_importer.crashguard import CrashGuard
from job_importer.durability import DeadWorkerRecovery, DurableRedisBroker, DurableRetries
from job_importer.settings import Settings


def build_broker(settings: Settings, extra_middleware: list[Middleware] | None = None) -> RedisBroker:
    """A Redis broker with our retry policy, set as Dramatiq's global broker."""
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
        DeadWorkerRecovery(settings),  # in worker processes only (after_worker_boot)
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
