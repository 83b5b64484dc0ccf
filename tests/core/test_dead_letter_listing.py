"""Listing dead letters reads a summary per message, not its body: a page of 200 dead chunks of
512 KB pulled 100 MB into the API on every request.

What Redis sends is measured by Redis itself (INFO's ``total_net_output_bytes``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import redis
from dramatiq.brokers.redis import RedisBroker

from job_importer.contract import IMPORT_ACTOR, chunk_message
from job_importer.deadletters import DeadLetters, reason_record
from job_importer.keys import Keys
from job_importer.settings import Settings

CHUNKS = 20
EXCERPT_CHARS = 500
OVERSIZED = 4 * 1024 * 1024 + 1  # over deadletters.SUMMARY_READ_MAX_BYTES: no message of ours is
ITEM = "x" * 4800  # 100 items of ~5 KB: a full 500 KB chunk


def _bury(client: redis.Redis, settings: Settings, message_id: str, body: bytes, at_ms: int) -> None:
    keys = Keys(settings.queue_namespace)
    client.zadd(keys.dead(settings.import_queue), {message_id: at_ms})
    client.hset(keys.dead_messages(settings.import_queue), message_id, body)


def _sent_by_redis(client: redis.Redis) -> int:
    return int(client.info("stats")["total_net_output_bytes"])


def test_a_page_of_dead_chunks_is_listed_without_reading_their_bodies_again(
    settings: Settings, broker: RedisBroker, redis_client: redis.Redis
) -> None:
    for seq in range(CHUNKS):
        items = [json.dumps({"id": f"b:{seq}-{n}", "description": ITEM}).encode() for n in range(100)]
        message = chunk_message(
            settings,
            run_id=f"run-{seq}",
            seq=seq,
            feed_url="http://user:secret@feeds.example/a.xml",
            fetched_at=datetime.now(UTC),
            items=items,
        )
        _bury(redis_client, settings, message.message_id, message.encode(), 1_000 + seq)
    redis_client.hset(
        Keys(settings.queue_namespace).dead_reasons(),
        message.message_id,
        reason_record("OperationFailure: x"),
    )
    letters = DeadLetters(redis_client, settings.queue_namespace, settings.import_queue)
    bodies = CHUNKS * len(message.encode())

    first = letters.list(limit=200)
    before = _sent_by_redis(redis_client)
    again = letters.list(limit=200)
    sent = _sent_by_redis(redis_client) - before

    assert again == first
    assert [(letter.run_id, letter.items, letter.actor) for letter in again] == [
        (f"run-{seq}", 100, IMPORT_ACTOR) for seq in reversed(range(CHUNKS))
    ]
    assert again[0].reason == "OperationFailure: x"  # the stored reason, as before
    assert again[1].reason.startswith("never processed")
    assert len(again[0].excerpt) == EXCERPT_CHARS and "secret" not in again[0].excerpt
    assert sent < bodies / 100, (
        f"Redis sent {sent} bytes to list {CHUNKS} dead chunks ({bodies} bytes of bodies)"
    )


def test_an_oversized_foreign_message_is_listed_from_its_beginning(
    settings: Settings, broker: RedisBroker, redis_client: redis.Redis
) -> None:
    body = b'{"queue_name":"import","actor_name":"huge","args":["' + b"y" * OVERSIZED + b'"]}'
    _bury(redis_client, settings, "huge-1", body, 5_000)
    letters = DeadLetters(redis_client, settings.queue_namespace, settings.import_queue)

    before = _sent_by_redis(redis_client)
    [letter] = letters.list()
    sent = _sent_by_redis(redis_client) - before

    assert (letter.actor, letter.items, letter.excerpt[:30]) == ("huge", 0, body[:30].decode())
    assert sent < 100_000
    assert letters.purge(None) == 1 and letters.list() == []
    assert not list(redis_client.scan_iter(f"{settings.queue_namespace}:__dead_*"))  # summary included
