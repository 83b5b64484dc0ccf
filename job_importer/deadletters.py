"""The message-level dead-letter queues: list, requeue, purge, and account for them in the history.

Dramatiq's Redis broker moves a message whose retries are exhausted to ``<ns>:<queue>.XQ`` (a
sorted set of ids by time) with its data in ``<ns>:<queue>.XQ.msgs``. We add the reason (a hash
by message id) and make sure every dead message is reflected on its run exactly once: a dead
chunk counts its items as failed, a dead fetch fails its run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import q_name
from dramatiq.errors import DecodeError
from dramatiq.middleware import Middleware

from job_importer import history
from job_importer.contract import FETCH_ACTOR, IMPORT_ACTOR
from job_importer.db import Store, get_store
from job_importer.pending import PendingItems
from job_importer.redact import redact
from job_importer.settings import Settings

log = logging.getLogger(__name__)


def reasons_key(namespace: str) -> str:
    return f"{namespace}:__dead_reasons__"


def accounted_key(namespace: str) -> str:
    return f"{namespace}:__dead_accounted__"


def claims_key(namespace: str, broker_id: str, queue: str) -> str:
    """Dramatiq's Redis set of the messages one worker (broker id; ``*`` for all) has fetched from a queue."""
    return f"{namespace}:__acks__.{broker_id}.{queue}"


def _xq(namespace: str, queue: str) -> tuple[str, str]:
    base = f"{namespace}:{queue}.XQ"
    return base, f"{base}.msgs"


#: The actor shown for a dead message that is not a Dramatiq message at all.
UNDECODABLE = "(undecodable)"

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
    namespace = broker.namespace
    claims = claims_key(namespace, broker.broker_id, queue_name)
    messages = f"{namespace}:{queue_name}.msgs"
    claimed = [_decode(m) for m in cast(set[bytes], broker.client.smembers(claims))]
    datas = cast(list[bytes | None], broker.client.hmget(messages, claimed)) if claimed else []
    message_id = next((mid for mid, raw in zip(claimed, datas, strict=True) if raw == data), None)
    if message_id is None:
        return None
    xq, xq_messages = _xq(namespace, q_name(queue_name))
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    keys = [claims, messages, xq, xq_messages, reasons_key(namespace)]
    buried = broker.client.eval(
        _BURY, len(keys), *keys, message_id, now_ms, _reason_record(clean_reason(reason))
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


def _reason_record(reason: str) -> str:
    return json.dumps({"reason": reason, "at": datetime.now(UTC).isoformat()})


def _decode(raw: Any) -> str:
    return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)


def _message(raw: Any) -> dramatiq.Message[Any] | None:
    """The dead message, or None when it is not a Dramatiq message at all (see bury_undecodable)."""
    try:
        return dramatiq.Message.decode(raw if isinstance(raw, bytes) else str(raw).encode())
    except DecodeError:
        return None


def _reason_from(message: dramatiq.Message[Any] | None, stored: Any) -> str:
    if stored:
        return str(json.loads(stored)["reason"])
    if message is None:
        return "undecodable message"
    traceback = message.options.get("traceback") or ""
    lines = [line for line in traceback.strip().splitlines() if line.strip()]
    # No exception on record: it was never processed (Dramatiq dead-letters unknown actors at once).
    return lines[-1] if lines else f"never processed: is actor {message.actor_name!r} deployed?"


def _chunk_of(message: dramatiq.Message[Any]) -> dict[str, Any] | None:
    """The chunk a dead import message carries; None for anything else (a poison message may
    carry any JSON at all, and must still be listed, accounted and purged)."""
    if message.actor_name == IMPORT_ACTOR and message.args and isinstance(message.args[0], dict):
        return message.args[0]
    return None


def _chunk_items(chunk: dict[str, Any]) -> list[Any]:
    items = chunk.get("items")
    return items if isinstance(items, list) else []


def _run_and_items(message: dramatiq.Message[Any]) -> tuple[str | None, int]:
    if (chunk := _chunk_of(message)) is not None:
        run_id = chunk.get("run_id")
        return (run_id if isinstance(run_id, str) else None), len(_chunk_items(chunk))
    if message.actor_name == FETCH_ACTOR and message.args:
        return str(message.args[0]), 0
    return None, 0


def list_dead(
    client: redis.Redis, namespace: str, queue: str, *, limit: int = 100, skip: int = 0
) -> list[DeadLetter]:
    """Dead letters of one queue, newest first."""
    xq, msgs = _xq(namespace, queue)
    entries = cast(list[tuple[bytes, float]], client.zrevrange(xq, skip, skip + limit - 1, withscores=True))
    if not entries:
        return []
    ids = [_decode(member) for member, _ in entries]
    datas = cast(list[bytes | None], client.hmget(msgs, ids))
    reasons = cast(list[bytes | None], client.hmget(reasons_key(namespace), ids))
    result = []
    for message_id, (_, score), raw, stored_reason in zip(ids, entries, datas, reasons, strict=True):
        if raw is None:
            continue
        message = _message(raw)
        run_id, items = _run_and_items(message) if message is not None else (None, 0)
        result.append(
            DeadLetter(
                message_id=message_id,
                queue=queue,
                actor=message.actor_name if message is not None else UNDECODABLE,
                dead_at=datetime.fromtimestamp(score / 1000, UTC),
                reason=_reason_from(message, stored_reason),
                run_id=run_id,
                items=items,
                excerpt=redact(_decode(raw))[:500],
            )
        )
    return result


def count_dead(client: redis.Redis, namespace: str, queue: str) -> int:
    return int(cast(int, client.zcard(_xq(namespace, queue)[0])))


def _dead_messages(
    client: redis.Redis, namespace: str, queue: str, message_ids: list[str] | None
) -> Iterator[tuple[str, dramatiq.Message[Any] | None]]:
    """The given dead messages (all of them when ids is None) that still exist; None for one
    that cannot be decoded."""
    xq, msgs = _xq(namespace, queue)
    if message_ids is None:
        message_ids = [_decode(m) for m in cast(list[bytes], client.zrange(xq, 0, -1))]
    for message_id in message_ids:
        raw = client.hget(msgs, message_id)
        if raw is not None:
            yield message_id, _message(raw)


def requeue_dead(
    broker: RedisBroker, namespace: str, queue: str, message_ids: list[str] | None = None
) -> int:
    """Send dead messages back to their queue with fresh retries; all of them when ids is None."""
    requeued = 0
    for message_id, message in _dead_messages(broker.client, namespace, queue, message_ids):
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
        _forget(broker.client, namespace, queue, message_id)
        requeued += 1
    return requeued


#: Options of a dead message that must not follow it back into the queue.
_SPENT_OPTIONS = frozenset({"retries", "traceback", "eta", "redis_message_id"})


def purge_dead(
    client: redis.Redis,
    namespace: str,
    queue: str,
    pending: PendingItems | None,
    message_ids: list[str] | None = None,
) -> int:
    """Delete dead messages for good; all of them when ids is None."""
    purged = 0
    for message_id, message in _dead_messages(client, namespace, queue, message_ids):
        if pending is not None and message is not None:
            pending.release(_item_ids(message))
        _forget(client, namespace, queue, message_id)
        purged += 1
    return purged


def _forget(client: redis.Redis, namespace: str, queue: str, message_id: str) -> None:
    xq, msgs = _xq(namespace, queue)
    with client.pipeline(transaction=True) as pipe:
        pipe.zrem(xq, message_id)
        pipe.hdel(msgs, message_id)
        pipe.hdel(reasons_key(namespace), message_id)
        pipe.srem(accounted_key(namespace), message_id)
        pipe.execute()


def _item_ids(message: dramatiq.Message[Any]) -> list[str]:
    chunk = _chunk_of(message)
    if chunk is None:
        return []
    return [str(item.get("id")) for item in _chunk_items(chunk) if isinstance(item, dict)]


def account(settings: Settings, store: Store, message: dramatiq.Message[Any], reason: str) -> None:
    """Reflect one dead message on its run (idempotent)."""
    run_id, items = _run_and_items(message)
    if run_id is None:
        return
    chunk = _chunk_of(message)
    if chunk is not None:
        seq, attempt = chunk.get("seq"), chunk.get("attempt")
        if not isinstance(seq, int) or not (attempt is None or isinstance(attempt, int)):
            return  # not a chunk our fetcher sent: nothing on the run to correct
        history.record_dead_chunk(
            store, run_id, seq, items, reason, failures_cap=settings.run_failures_cap, attempt=attempt
        )
    elif message.actor_name == FETCH_ACTOR:
        history.fail_run(store, run_id, f"fetch dead-lettered: {reason}")


def reconcile_dead_letters(settings: Settings, store: Store, broker: RedisBroker) -> int:
    """Account for dead messages whose accounting was missed (e.g. MongoDB was down). Returns how many."""
    client = broker.client
    pending = PendingItems(client, settings.queue_namespace, settings.import_queue, settings.dedupe_ttl_s)
    done = 0
    for queue in (settings.fetch_queue, settings.import_queue):
        xq, msgs = _xq(settings.queue_namespace, queue)
        ids = [_decode(m) for m in cast(list[bytes], client.zrange(xq, 0, -1))]
        if not ids:
            continue
        seen = cast(list[int], client.smismember(accounted_key(settings.queue_namespace), ids))
        for message_id, is_accounted in zip(ids, seen, strict=True):
            if is_accounted:
                continue
            raw = client.hget(msgs, message_id)
            if raw is None:
                continue
            try:
                message = _message(raw)
                if message is not None:  # an undecodable message has no run to correct
                    stored = client.hget(reasons_key(settings.queue_namespace), message_id)
                    pending.release(_item_ids(message))  # in case the worker could not do it either
                    account(settings, store, message, _reason_from(message, stored))
            except Exception:  # one bad message must not stop the accounting of the others
                log.exception("could not account for dead message %s; will try again", message_id)
                continue
            client.sadd(accounted_key(settings.queue_namespace), message_id)
            done += 1
    return done


class DeadLetterAccounting(Middleware):
    """Notes why a message died and reflects it on its run as soon as Retries gives up on it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: BaseException | None = None
    ) -> None:
        if exception is None or not message.failed:
            return
        record_death(self.settings, broker, message, f"{type(exception).__name__}: {exception}")


def record_death(settings: Settings, broker: RedisBroker, message: Any, reason: str) -> None:
    """Note why a message is going to the dead letters and reflect it on its run (best effort:
    the scheduler's housekeeping accounts for whatever this could not)."""
    namespace = settings.queue_namespace
    message_id = message.options.get("redis_message_id")
    reason = clean_reason(reason)
    try:
        broker.client.hset(reasons_key(namespace), message_id, _reason_record(reason))
        PendingItems(broker.client, namespace, settings.import_queue, settings.dedupe_ttl_s).release(
            _item_ids(message)
        )
        account(settings, get_store(settings), message, reason)
        broker.client.sadd(accounted_key(namespace), message_id)
    except Exception:
        log.exception("could not account for dead message %s now; the scheduler will", message_id)
