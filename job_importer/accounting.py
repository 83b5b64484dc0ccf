"""Dead messages reflected on their runs, exactly once: a dead chunk counts its items as failed,
a dead fetch fails its run.

A message dies in a worker (Dramatiq's Retries gives up, or the crash guard buries it): the
worker notes the reason and accounts for it at once (:class:`DeadLetterAccounting`,
:func:`record_death`). That is best effort, because MongoDB may be what killed it; every message
accounted is marked in Redis, and the scheduler's housekeeping (:func:`reconcile_dead_letters`)
accounts for the unmarked ones later. Accounting is idempotent on the run's side, so a message
accounted twice (a crash between the two steps) still counts once.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, cast

from dramatiq.middleware import Middleware

from job_importer import history
from job_importer.contract import FETCH_ACTOR
from job_importer.db import Store, get_store
from job_importer.deadletters import (
    DeadLetters,
    chunk_of,
    clean_reason,
    decode_message,
    item_ids,
    reason_from,
    reason_record,
    run_and_items,
)
from job_importer.keys import Keys
from job_importer.pending import PendingItems
from job_importer.settings import Settings

if TYPE_CHECKING:
    import dramatiq
    from dramatiq.broker import Broker, MessageProxy
    from dramatiq.brokers.redis import RedisBroker

log = logging.getLogger(__name__)


def account(settings: Settings, store: Store, message: dramatiq.Message[Any], reason: str) -> None:
    """Reflect one dead message on its run (idempotent)."""
    run_id, items = run_and_items(message)
    if run_id is None:
        return
    chunk = chunk_of(message)
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
    pending = PendingItems.for_settings(broker.client, settings)
    done = 0
    for queue in (settings.fetch_queue, settings.import_queue):
        letters = DeadLetters.of(broker, queue)
        for message_id in letters.unaccounted():
            raw = letters.raw(message_id)
            if raw is None:
                continue
            try:
                message = decode_message(raw)
                if message is not None:  # an undecodable message has no run to correct
                    pending.release(item_ids(message))  # in case the worker could not do it either
                    account(settings, store, message, reason_from(message, letters.stored_reason(message_id)))
            except Exception:  # one bad message must not stop the accounting of the others
                log.exception("could not account for dead message %s; will try again", message_id)
                continue
            letters.mark_accounted(message_id)
            done += 1
    return done


class DeadLetterAccounting(Middleware):
    """Notes why a message died and reflects it on its run as soon as Retries gives up on it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is None or not message.failed:
            return
        record_death(
            self.settings, cast("RedisBroker", broker), message, f"{type(exception).__name__}: {exception}"
        )


def record_death(settings: Settings, broker: RedisBroker, message: Any, reason: str) -> None:
    """Note why a message is going to the dead letters and reflect it on its run (best effort:
    the scheduler's housekeeping accounts for whatever this could not)."""
    keys = Keys(settings.queue_namespace)
    message_id = message.options.get("redis_message_id")
    reason = clean_reason(reason)
    try:
        broker.client.hset(keys.dead_reasons(), message_id, reason_record(reason))
        PendingItems.for_settings(broker.client, settings).release(item_ids(message))
        account(settings, get_store(settings), message, reason)
        broker.client.sadd(keys.dead_accounted(), message_id)
    except Exception:
        log.exception("could not account for dead message %s now; the scheduler will", message_id)
