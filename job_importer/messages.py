"""The message browser: one queue's messages in every state, one message in full, and the few
things an operator may do to them.

Dramatiq's Redis layout (:mod:`job_importer.keys`) holds four states:

* **ready**: ids in the queue's list, in delivery order; bodies in ``.msgs``;
* **delayed**: retries with backoff and Retry-After waits live in the delay queue ``.DQ``
  (bodies in ``.DQ.msgs``); a worker prefetches them and holds each until its ETA, so most are
  claimed by some worker even though they are only waiting;
* **in progress**: the ids a worker has fetched from the ready queue and not yet acked
  (``__acks__.{worker}.{q}``), bodies still in ``.msgs``;
* **dead**: :mod:`job_importer.deadletters`.

What they show is redacted (:func:`job_importer.redact.redact`): a fetch message carries its
feed's URL, which may carry credentials. Deleting a ready or delayed message reflects it on its
run as a dead one would be (:func:`job_importer.accounting.account`), so the run still completes;
a message a worker has claimed cannot be deleted (the worker would run or send it anyway).
Promoting a delayed message sends it to the ready queue now; a worker that had prefetched it
still sends its own copy at the ETA, which the pipeline's guards make a no-op (a fetch whose run
is past fetching is skipped; a chunk already counted is not counted again).
"""

from __future__ import annotations

import builtins
import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import dq_name, q_name

from job_importer import accounting
from job_importer.db import Store
from job_importer.deadletters import (
    UNDECODABLE,
    DeadLetters,
    decode_message,
    item_ids,
    reason_from,
    run_and_items,
)
from job_importer.keys import Keys
from job_importer.pending import PendingItems
from job_importer.redact import redact
from job_importer.settings import Settings

State = Literal["ready", "delayed", "in_progress", "dead"]
STATES: tuple[State, ...] = ("ready", "delayed", "in_progress", "dead")
DELETED_REASON = "deleted by an operator"


@dataclass(frozen=True)
class MessageSummary:
    """One line of the browser."""

    message_id: str
    queue: str
    state: State
    actor: str
    run_id: str | None
    items: int
    enqueued_at: datetime | None
    eta: datetime | None  # delayed: when it becomes ready
    retries: int


@dataclass(frozen=True)
class MessageDetail(MessageSummary):
    """One message in full: its arguments and options (redacted), its error and traceback."""

    payload: str  # the message's JSON, credentials redacted
    error: str | None  # the last error (dead: the reason it died)
    traceback: str | None


def _text(raw: Any) -> str:
    return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)


def _ms(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value / 1000, UTC) if isinstance(value, int | float) else None


class QueueBrowser:
    """The messages of one queue, per state, with paging."""

    def __init__(self, client: redis.Redis, namespace: str, queue: str) -> None:
        self.client = client
        self.queue = queue
        self.keys = Keys(namespace)
        self.dead = DeadLetters(client, namespace, queue)

    @classmethod
    def of(cls, client: redis.Redis, settings: Settings, queue: str) -> QueueBrowser:
        return cls(client, settings.queue_namespace, queue)

    # Where each state keeps its ids and bodies.
    def _bodies(self, state: State) -> str:
        return {
            "ready": self.keys.messages(q_name(self.queue)),
            "in_progress": self.keys.messages(q_name(self.queue)),
            "delayed": self.keys.delayed_messages(self.queue),
            "dead": self.keys.dead_messages(self.queue),
        }[state]

    def _claimed(self, queue: str) -> builtins.list[str]:
        ids: set[str] = set()
        for key in self.client.scan_iter(match=self.keys.claims("*", queue), count=500):
            ids.update(_text(member) for member in cast(set[bytes], self.client.smembers(key)))
        return sorted(ids)

    def _ids(self, state: State, skip: int, limit: int) -> tuple[builtins.list[str], int]:
        """One page of ids in the state, and how many there are."""
        if state == "ready":
            key = self.keys.ready(self.queue)
            page = cast(builtins.list[bytes], self.client.lrange(key, skip, skip + limit - 1))
            return [_text(m) for m in page], int(cast(int, self.client.llen(key)))
        if state == "delayed":
            every = sorted(
                _text(m) for m in cast(builtins.list[bytes], self.client.hkeys(self._bodies(state)))
            )
        elif state == "in_progress":
            every = self._claimed(q_name(self.queue))
        else:
            ids = [
                _text(m)
                for m in cast(
                    builtins.list[bytes],
                    self.client.zrevrange(self.keys.dead(self.queue), skip, skip + limit - 1),
                )
            ]
            return ids, self.dead.count()
        return every[skip : skip + limit], len(every)

    def list(
        self, state: State, *, limit: int = 50, skip: int = 0
    ) -> tuple[builtins.list[MessageSummary], int]:
        """A page of the state's messages (ready: in delivery order; dead: newest first; others by
        id) and the state's total."""
        ids, total = self._ids(state, skip, limit)
        raws = cast(builtins.list[bytes | None], self.client.hmget(self._bodies(state), ids)) if ids else []
        rows = [
            _summary(self.queue, state, message_id, raw)
            for message_id, raw in zip(ids, raws, strict=True)
            if raw is not None  # acked or moved between the two reads
        ]
        return rows, total

    def state_of(self, message_id: str) -> State | None:
        if self.client.hexists(self._bodies("dead"), message_id):
            return "dead"
        if self.client.hexists(self._bodies("delayed"), message_id):
            return "delayed"
        if self.client.hexists(self._bodies("ready"), message_id):
            claimed = self._claimed(q_name(self.queue))
            return "in_progress" if message_id in claimed else "ready"
        return None

    def get(self, message_id: str) -> MessageDetail | None:
        """One message in full; None when the queue has no message with this id."""
        state = self.state_of(message_id)
        if state is None:
            return None
        raw = self.client.hget(self._bodies(state), message_id)
        if raw is None:
            return None
        summary = _summary(self.queue, state, message_id, raw)
        message = decode_message(raw)
        traceback = message.options.get("traceback") if message is not None else None
        error = None
        if state == "dead":
            error = reason_from(message, self.dead.stored_reason(message_id))
        elif traceback:
            error = [line for line in str(traceback).strip().splitlines() if line.strip()][-1]
        return MessageDetail(
            **summary.__dict__,
            payload=_payload(raw, message),
            error=redact(error) if error else None,
            traceback=redact(str(traceback)) if traceback else None,
        )

    def promote(self, broker: RedisBroker, message_ids: Sequence[str]) -> builtins.list[str]:
        """Send delayed messages to the ready queue now; returns the ids promoted."""
        promoted = []
        for message_id in message_ids:
            raw = self.client.hget(self._bodies("delayed"), message_id)
            message = decode_message(raw) if raw is not None else None
            if message is None or not self._take(dq_name(q_name(self.queue)), message_id, prefetched_ok=True):
                continue
            options = {k: v for k, v in message.options.items() if k not in ("eta", "redis_message_id")}
            # Not Message.copy: it merges options, and the ETA must go.
            broker.enqueue(dataclasses.replace(message, queue_name=q_name(self.queue), options=options))
            promoted.append(message_id)
        return promoted

    def delete(
        self, settings: Settings, store: Store | None, message_ids: Sequence[str]
    ) -> builtins.list[str]:
        """Delete ready, delayed or dead messages; returns the ids deleted. A message a worker has
        claimed (in progress, or a delayed one it holds until its ETA: it would still send it) is
        left alone; the others are reflected on their runs (see the module docstring)."""
        pending = PendingItems.for_settings(self.client, settings)
        deleted = []
        for message_id in message_ids:
            state = self.state_of(message_id)
            if state == "dead":
                deleted += [message_id] * self.dead.purge(pending, [message_id])
                continue
            if state not in ("ready", "delayed"):
                continue
            queue = q_name(self.queue) if state == "ready" else dq_name(q_name(self.queue))
            raw = self.client.hget(self._bodies(state), message_id)
            if not self._take(queue, message_id):
                continue
            message = decode_message(raw) if raw is not None else None
            if message is not None:
                pending.release(item_ids(message))
                if store is not None:
                    accounting.account(settings, store, message, DELETED_REASON)
            deleted.append(message_id)
        return deleted

    def _take(self, queue: str, message_id: str, *, prefetched_ok: bool = False) -> bool:
        """Remove a message from ``queue`` (a Dramatiq queue name); one a worker has claimed only
        when ``prefetched_ok`` (a delayed message being promoted: see the module docstring)."""
        if message_id in self._claimed(queue):
            if not prefetched_ok:
                return False
            for key in self.client.scan_iter(match=self.keys.claims("*", queue), count=500):
                self.client.srem(key, message_id)
        with self.client.pipeline(transaction=True) as pipe:
            pipe.lrem(f"{self.keys.namespace}:{queue}", 0, message_id)  # keys.ready() would strip .DQ
            pipe.hdel(self.keys.messages(queue), message_id)
            _, removed = pipe.execute()
        return bool(removed)


def _summary(queue: str, state: State, message_id: str, raw: Any) -> MessageSummary:
    message = decode_message(raw)
    if message is None:
        return MessageSummary(message_id, queue, state, UNDECODABLE, None, 0, None, None, 0)
    run_id, items = run_and_items(message)
    return MessageSummary(
        message_id=message_id,
        queue=queue,
        state=state,
        actor=message.actor_name,
        run_id=run_id,
        items=items,
        enqueued_at=_ms(message.message_timestamp),
        eta=_ms(message.options.get("eta")),
        retries=int(message.options.get("retries") or 0),
    )


def _payload(raw: Any, message: dramatiq.Message[Any] | None) -> str:
    if message is None:
        return redact(_text(raw))
    body = {"actor": message.actor_name, "args": message.args, "kwargs": message.kwargs, "options": {
        k: v for k, v in message.options.items() if k != "traceback"
    }}  # fmt: skip
    return redact(json.dumps(body, indent=2, ensure_ascii=False, default=str))
