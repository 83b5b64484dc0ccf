"""The message-level dead-letter queues: what is in them, and requeue and purge.

Dramatiq's Redis broker moves a message whose retries are exhausted to the queue's ``.XQ``
(ids by time of death) with its data in ``.XQ.msgs`` (see :mod:`job_importer.keys`). We add
the reason (a hash by message id), and a summary of each (actor, run, items, excerpt).

A dead chunk's body is up to ``CHUNK_MAX_BYTES`` (512 KB): listing a page of 200 by reading their
bodies pulled 100 MB into the API per request. So a page is listed from the summaries; a dead
message without one yet has its body read once, alone, to make it (and one over
``SUMMARY_READ_MAX_BYTES``, which no message of ours is, only its first ``EXCERPT_READ_BYTES``). :class:`DeadLetters` is one queue's registry of them; making
sure each dead message is reflected on its run exactly once is :mod:`job_importer.accounting`'s.
"""

from __future__ import annotations

import builtins
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import q_name
from dramatiq.errors import DecodeError

from job_importer.contract import FETCH_ACTOR, IMPORT_ACTOR
from job_importer.keys import Keys
from job_importer.pending import PendingItems
from job_importer.redact import redact

log = logging.getLogger(__name__)


#: The actor shown for a dead message that is not a Dramatiq message at all.
UNDECODABLE = "(undecodable)"
EXCERPT_CHARS = 500
#: A dead message larger than this is summarised from its first EXCERPT_READ_BYTES only.
SUMMARY_READ_MAX_BYTES = 4 * 1024 * 1024
EXCERPT_READ_BYTES = 16 * 1024

_PREFIX = """
local data = redis.call('hget', KEYS[1], ARGV[1])
if not data then return false end
return string.sub(data, 1, tonumber(ARGV[2]))
"""
_ACTOR = re.compile(rb'"actor_name"\s*:\s*"([^"]{1,200})"')

_BURY = """
if redis.call('srem', KEYS[1], ARGV[1]) == 0 then return 0 end
local data = redis.call('hget', KEYS[2], ARGV[1])
if not data then return 0 end
redis.call('zadd', KEYS[3], ARGV[2], ARGV[1])
redis.call('hset', KEYS[4], ARGV[1], data)
redis.call('hdel', KEYS[2], ARGV[1])
redis.call('hset', KEYS[5], ARGV[1], ARGV[3])
return 1
"""


def bury_undecodable(broker: RedisBroker, queue_name: str, data: bytes, reason: str) -> str | None:
    """Move a message this worker fetched but cannot decode to its dead letters; returns its id.

    Dramatiq's consumer only has the message's bytes, so its id is found among this worker's
    claims on the queue (the messages it has fetched and not yet acked: a handful).
    """
    keys = Keys(broker.namespace)
    claims = keys.claims(broker.broker_id, queue_name)
    messages = keys.messages(queue_name)
    claimed = [_decode(m) for m in cast(set[bytes], broker.client.smembers(claims))]
    datas = cast(list[bytes | None], broker.client.hmget(messages, claimed)) if claimed else []
    message_id = next((mid for mid, raw in zip(claimed, datas, strict=True) if raw == data), None)
    if message_id is None:
        return None
    queue = q_name(queue_name)
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    names = [claims, messages, keys.dead(queue), keys.dead_messages(queue), keys.dead_reasons()]
    buried = broker.client.eval(
        _BURY, len(names), *names, message_id, now_ms, reason_record(clean_reason(reason))
    )
    return message_id if buried else None


@dataclass(frozen=True)
class DeadLetter:
    message_id: str  # the Redis message id (what requeue/delete take)
    queue: str
    actor: str
    dead_at: datetime
    reason: str
    run_id: str | None
    items: int
    excerpt: str

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "dead_at": self.dead_at.isoformat()}


def clean_reason(reason: str) -> str:
    """A reason as the dead letters keep it: no credentials, at most 2,000 characters."""
    return redact(reason)[:2000]


def reason_record(reason: str) -> str:
    return json.dumps({"reason": reason, "at": datetime.now(UTC).isoformat()})


def _decode(raw: Any) -> str:
    return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)


def decode_message(raw: Any) -> dramatiq.Message[Any] | None:
    """The dead message, or None when it is not a Dramatiq message at all (see bury_undecodable)."""
    try:
        return dramatiq.Message.decode(raw if isinstance(raw, bytes) else str(raw).encode())
    except DecodeError:
        return None


def reason_from(message: dramatiq.Message[Any] | None, stored: Any) -> str:
    if stored:
        return str(json.loads(stored)["reason"])
    if message is None:
        return "undecodable message"
    traceback = message.options.get("traceback") or ""
    lines = [line for line in traceback.strip().splitlines() if line.strip()]
    # No exception on record: it was never processed (Dramatiq dead-letters unknown actors at once).
    return lines[-1] if lines else f"never processed: is actor {message.actor_name!r} deployed?"


def chunk_of(message: dramatiq.Message[Any]) -> dict[str, Any] | None:
    """The chunk a dead import message carries; None for anything else (a poison message may
    carry any JSON at all, and must still be listed, accounted and purged)."""
    if message.actor_name == IMPORT_ACTOR and message.args and isinstance(message.args[0], dict):
        return message.args[0]
    return None


def chunk_items(chunk: dict[str, Any]) -> list[Any]:
    items = chunk.get("items")
    return items if isinstance(items, list) else []


def run_and_items(message: dramatiq.Message[Any]) -> tuple[str | None, int]:
    if (chunk := chunk_of(message)) is not None:
        run_id = chunk.get("run_id")
        return (run_id if isinstance(run_id, str) else None), len(chunk_items(chunk))
    if message.actor_name == FETCH_ACTOR and message.args:
        return str(message.args[0]), 0
    return None, 0


#: Options of a dead message that must not follow it back into the queue.
_SPENT_OPTIONS = frozenset({"retries", "traceback", "eta", "redis_message_id"})


class DeadLetters:
    """The dead letters of one queue: list, count, requeue, purge; and their accounting marks."""

    def __init__(self, client: redis.Redis, namespace: str, queue: str) -> None:
        self.client = client
        self.queue = queue
        self.keys = Keys(namespace)
        self._dead = self.keys.dead(queue)
        self._messages = self.keys.dead_messages(queue)

    @classmethod
    def of(cls, broker: RedisBroker, queue: str) -> DeadLetters:
        return cls(broker.client, broker.namespace, queue)

    def list(self, *, limit: int = 100, skip: int = 0) -> list[DeadLetter]:
        """Dead letters of the queue, newest first, from their summaries (bodies are not read)."""
        entries = cast(
            builtins.list[tuple[bytes, float]],
            self.client.zrevrange(self._dead, skip, skip + limit - 1, withscores=True),
        )
        if not entries:
            return []
        ids = [_decode(member) for member, _ in entries]
        summaries = cast(builtins.list[bytes | None], self.client.hmget(self.keys.dead_summaries(), ids))
        reasons = cast(builtins.list[bytes | None], self.client.hmget(self.keys.dead_reasons(), ids))
        result = []
        for message_id, (_, score), stored, stored_reason in zip(
            ids, entries, summaries, reasons, strict=True
        ):
            summary = json.loads(stored) if stored else self._summarise(message_id)
            if summary is None:
                continue
            result.append(
                DeadLetter(
                    message_id=message_id,
                    queue=self.queue,
                    actor=summary["actor"],
                    dead_at=datetime.fromtimestamp(score / 1000, UTC),
                    reason=str(json.loads(stored_reason)["reason"]) if stored_reason else summary["reason"],
                    run_id=summary["run_id"],
                    items=summary["items"],
                    excerpt=summary["excerpt"],
                )
            )
        return result

    def _summarise(self, message_id: str) -> dict[str, Any] | None:
        """Read one dead message's body (capped), summarise it and keep the summary; None if gone."""
        size = int(cast(int, self.client.hstrlen(self._messages, message_id)))
        if size == 0:
            return None
        if size <= SUMMARY_READ_MAX_BYTES:
            raw = self.raw(message_id)
            if raw is None:
                return None
            message = decode_message(raw)
            run_id, items = run_and_items(message) if message is not None else (None, 0)
            summary = {
                "actor": message.actor_name if message is not None else UNDECODABLE,
                "run_id": run_id,
                "items": items,
                "reason": reason_from(message, None),
            }
        else:  # not one of ours: show what its beginning says
            raw = cast(
                bytes | None, self.client.eval(_PREFIX, 1, self._messages, message_id, EXCERPT_READ_BYTES)
            )
            if raw is None:
                return None
            actor = _ACTOR.search(raw)
            summary = {
                "actor": _decode(actor.group(1)) if actor else UNDECODABLE,
                "run_id": None,
                "items": 0,
                "reason": f"a message of {size} bytes",
            }
        summary["excerpt"] = redact(_decode(raw[:EXCERPT_READ_BYTES]))[:EXCERPT_CHARS]
        self.client.hset(self.keys.dead_summaries(), message_id, json.dumps(summary))
        return summary

    def count(self) -> int:
        return int(cast(int, self.client.zcard(self._dead)))

    def ids(self) -> builtins.list[str]:
        """Every dead message's id, oldest first."""
        return [_decode(m) for m in cast(builtins.list[bytes], self.client.zrange(self._dead, 0, -1))]

    def raw(self, message_id: str) -> bytes | None:
        return cast(bytes | None, self.client.hget(self._messages, message_id))

    def messages(
        self, message_ids: builtins.list[str] | None = None
    ) -> Iterator[tuple[str, dramatiq.Message[Any] | None]]:
        """The given dead messages (all of them when ids is None) that still exist; None for one
        that cannot be decoded."""
        for message_id in self.ids() if message_ids is None else message_ids:
            raw = self.raw(message_id)
            if raw is not None:
                yield message_id, decode_message(raw)

    def requeue(self, broker: RedisBroker, message_ids: builtins.list[str] | None = None) -> int:
        """Send dead messages back to their queue with fresh retries; all of them when ids is None."""
        requeued = 0
        for message_id, message in self.messages(message_ids):
            if message is None:
                continue  # nothing a worker could run: it can only be purged
            options = {k: v for k, v in message.options.items() if k not in _SPENT_OPTIONS}
            options["requeued_from_dlq"] = True
            revived: dramatiq.Message[Any] = dramatiq.Message(
                queue_name=q_name(message.queue_name),
                actor_name=message.actor_name,
                args=message.args,
                kwargs=message.kwargs,
                options=options,
                message_id=message.message_id,
                message_timestamp=message.message_timestamp,
            )
            broker.enqueue(revived)  # enqueue first: a crash here leaves a duplicate, never a loss
            self._forget(message_id)
            requeued += 1
        return requeued

    def purge(self, pending: PendingItems | None, message_ids: builtins.list[str] | None = None) -> int:
        """Delete dead messages for good; all of them when ids is None."""
        purged = 0
        for message_id, message in self.messages(message_ids):
            if pending is not None and message is not None:
                pending.release(item_ids(message))
            self._forget(message_id)
            purged += 1
        return purged

    def stored_reason(self, message_id: str) -> Any:
        return self.client.hget(self.keys.dead_reasons(), message_id)

    def unaccounted(self) -> builtins.list[str]:
        """Dead messages not yet reflected on their run (see :mod:`job_importer.accounting`)."""
        ids = self.ids()
        if not ids:
            return []
        seen = cast(builtins.list[int], self.client.smismember(self.keys.dead_accounted(), ids))
        return [message_id for message_id, is_accounted in zip(ids, seen, strict=True) if not is_accounted]

    def mark_accounted(self, message_id: str) -> None:
        self.client.sadd(self.keys.dead_accounted(), message_id)

    def _forget(self, message_id: str) -> None:
        with self.client.pipeline(transaction=True) as pipe:
            pipe.zrem(self._dead, message_id)
            pipe.hdel(self._messages, message_id)
            pipe.hdel(self.keys.dead_reasons(), message_id)
            pipe.hdel(self.keys.dead_summaries(), message_id)
            pipe.srem(self.keys.dead_accounted(), message_id)
            pipe.execute()


def item_ids(message: dramatiq.Message[Any]) -> list[str]:
    chunk = chunk_of(message)
    if chunk is None:
        return []
    return [str(item.get("id")) for item in chunk_items(chunk) if isinstance(item, dict)]
