"""The Redis keys the ScaledObject watches count the importer's work, checked on a real Redis.

The chart is rendered for this test's queue namespace; messages go through the real Dramatiq Redis
broker (its dispatch.lua), and a real consumer takes some of them, as a worker would. Each trigger
is read the way KEDA's redis scaler reads a key: by its type (LLEN, HLEN, SCARD or ZCARD; 0 when
missing), and the two are added as the ScaledObject's formula says.
"""

from __future__ import annotations

from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

from job_importer.contract import IMPORT_ACTOR
from job_importer.keys import Keys
from job_importer.settings import Settings
from tests.deploy.chart import FULLNAME, find, render

LENGTH = {"list": "LLEN", "hash": "HLEN", "set": "SCARD", "zset": "ZCARD"}


def keda_reading(client: redis.Redis, key: str) -> int:
    """What KEDA's redis scaler reports for ``key``."""
    kind = client.type(key)
    kind = kind.decode() if isinstance(kind, bytes) else kind
    return int(client.execute_command(LENGTH[kind], key)) if kind in LENGTH else 0


def chunk(settings: Settings, number: int) -> dramatiq.Message[Any]:
    return dramatiq.Message(
        queue_name=settings.import_queue,
        actor_name=IMPORT_ACTOR,
        args=({"chunk": number},),
        kwargs={},
        options={},
    )


def test_triggers_count_ready_in_flight_and_delayed_messages_but_not_dead_ones(
    settings: Settings, broker: RedisBroker, redis_client: redis.Redis
) -> None:
    scaled = find(
        render(sets=(f"config.QUEUE_NAMESPACE={settings.queue_namespace}",)),
        "ScaledObject",
        f"{FULLNAME}-importer",
    )
    keys = {trigger["name"]: trigger["metadata"]["listName"] for trigger in scaled["spec"]["triggers"]}
    assert scaled["spec"]["advanced"]["scalingModifiers"]["formula"] == "queued + delayed"
    named = Keys(settings.queue_namespace)  # the chart names the keys job_importer/keys.py documents
    assert keys == {
        "queued": named.messages(settings.import_queue),
        "delayed": named.delayed_messages(settings.import_queue),
    }

    def work() -> dict[str, int]:
        return {name: keda_reading(redis_client, key) for name, key in keys.items()}

    ready_list = named.ready(settings.import_queue)
    delayed_list = f"{ready_list}.DQ"
    assert work() == {"queued": 0, "delayed": 0}

    for number in range(5):
        broker.enqueue(chunk(settings, number))
    for number in range(3):
        broker.enqueue(chunk(settings, 100 + number), delay=600_000)  # a retry waiting for its backoff
    assert work() == {"queued": 5, "delayed": 3}

    # A worker prefetches two chunks: they leave the list but are still work to do.
    consumer = broker.consume(settings.import_queue, prefetch=2, timeout=1000)
    taken = [next(consumer), next(consumer)]
    assert all(taken)
    assert redis_client.llen(ready_list) == 3
    assert work() == {"queued": 5, "delayed": 3}

    # A worker holds the delayed ones in memory until their time: the .DQ list empties, the work stays.
    delayed_consumer = broker.consume(f"{settings.import_queue}.DQ", prefetch=3, timeout=1000)
    held = [next(delayed_consumer) for _ in range(3)]
    assert all(held)
    assert redis_client.llen(delayed_list) == 0
    assert work() == {"queued": 5, "delayed": 3}

    # One chunk done, one dead-lettered: neither is work any more.
    consumer.ack(taken[0])
    consumer.nack(taken[1])
    assert work() == {"queued": 3, "delayed": 3}
    assert redis_client.zcard(named.dead(settings.import_queue)) == 1
    consumer.close()
    delayed_consumer.close()
