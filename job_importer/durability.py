"""Dramatiq's Redis edges, closed: nothing is lost when Redis goes away for a moment or is full.

Redis at ``maxmemory`` (``noeviction``, as a queue must run) refuses every write with
``OutOfMemoryError`` while reads still work: it is an outage like a lost connection, and is
treated as one everywhere below (``REDIS_DOWN``), until memory is freed.

* A message whose actor fails while Redis is unreachable: Dramatiq's Retries middleware cannot
  enqueue the retry, logs the error, and the worker then acknowledges the original once Redis is
  back. The message is gone. :class:`DurableRetries` keeps trying to enqueue the retry until Redis
  answers, as Dramatiq itself does for acknowledgements. An actor that failed *because* of the
  outage (a fetch whose chunks could not be enqueued) is retried without spending one of its
  retries: an outage longer than the retries must not dead-letter it.
* Dramatiq retries an acknowledgement until Redis answers, but only on a connection error: a full
  Redis failed the ack for good, leaving the message claimed by a live worker (never redelivered).
  :class:`DecodeSafeConsumer` reports ``OutOfMemoryError`` as a connection error, so acks, fetches
  and requeues wait for memory like they wait for a connection.
* Delayed messages (retries with backoff, Retry-After) wait in the worker's memory, claimed in
  Redis. On a connection error Dramatiq drops that memory, but the claims stay, and a live worker's
  claims are never handed out again: the messages wait for the worker to restart.
  :class:`DurableRedisBroker` gives them back to their delay queue when the consumer reconnects.
* A message that is not a Dramatiq message at all (only possible by writing to Redis directly)
  makes Dramatiq's consumer fail and restart, dropping the messages it had prefetched with it
  while they stay claimed: they wait for the worker to restart, and the bad message poisons it
  again. :class:`DurableRedisBroker`'s consumers move such a message to the dead letters instead.
* A worker that dies (kill -9, out of memory, a pod evicted) leaves the messages it had fetched
  claimed; Dramatiq hands them out again only in its "maintenance", which a dispatch runs with a
  chance of ``MAINTENANCE_CHANCE`` per million (1,000: 0.1%), on the queue of that dispatch only. An
  idle queue draws it rarely: recovery took minutes to hours. :class:`DeadWorkerRecovery` runs that
  maintenance on every queue of both services every ``MAINTENANCE_INTERVAL_MS`` in each worker
  process, so a dead worker's messages come back within ``HEARTBEAT_TIMEOUT_MS`` plus that interval.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any, cast

import dramatiq
import redis
from dramatiq.broker import Broker, Consumer, MessageProxy
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis, dq_name
from dramatiq.errors import ConnectionClosed, DecodeError
from dramatiq.middleware import Middleware, Retries

from job_importer.deadletters import bury_undecodable
from job_importer.keys import Keys
from job_importer.settings import Settings

log = logging.getLogger(__name__)

#: Pause between attempts to enqueue a retry while Redis is unreachable.
RETRY_ENQUEUE_PAUSE_S = 1.0
REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError, redis.OutOfMemoryError)
#: How long an actor that failed on a Redis outage waits before it runs again (not a retry).
OUTAGE_RETRY_DELAY_MS = 2000


def caused_by_outage(exception: BaseException | None) -> bool:
    """Whether an exception is (or was raised from) Redis being unreachable or full."""
    seen = 0
    while exception is not None and seen < 10:
        if isinstance(exception, REDIS_DOWN):
            return True
        exception, seen = exception.__cause__ or exception.__context__, seen + 1
    return False


class DurableRetries(Retries):
    """Dramatiq's Retries, whose retry is enqueued even if Redis is away when the actor fails."""

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any | None = None,
        exception: BaseException | None = None,
    ) -> None:
        options = dict(message.options)
        outage = exception is not None and not message.failed and caused_by_outage(exception)
        while True:
            try:
                if outage:
                    self._again_after_outage(broker, message, exception)
                else:
                    super().after_process_message(broker, message, result=result, exception=exception)
                return
            except REDIS_DOWN as error:
                # Retries had already counted this retry in the options: undo that before trying again.
                message.options.clear()
                message.options.update(options)
                log.warning(
                    "could not enqueue the retry of message %s (%s); trying again in %.0f s",
                    message.message_id,
                    error,
                    RETRY_ENQUEUE_PAUSE_S,
                )
                time.sleep(RETRY_ENQUEUE_PAUSE_S)

    def _again_after_outage(
        self, broker: Broker, message: MessageProxy, exception: BaseException | None
    ) -> None:
        log.warning(
            "message %s failed on a Redis outage (%s); running it again in %d ms, not counted as a retry",
            message.message_id,
            exception,
            OUTAGE_RETRY_DELAY_MS,
        )
        broker.enqueue(cast("dramatiq.Message[Any]", message), delay=OUTAGE_RETRY_DELAY_MS)  # as Retries does


class DurableRedisBroker(RedisBroker):
    """Dramatiq's Redis broker, giving back delayed messages its consumers lost track of."""

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> Consumer:
        if queue_name.endswith(".DQ"):
            self._release_claims(queue_name)
        return DecodeSafeConsumer(self, queue_name, super().consume(queue_name, prefetch, timeout))

    def _release_claims(self, queue_name: str) -> None:
        """Return this worker's claimed delayed messages to their queue.

        A delay-queue consumer is (re)created only when its thread holds no delayed messages: at
        boot, or after an error dropped them from memory (they are requeued on other errors). Any
        claim of this worker on the queue at that moment is one nobody will act on.
        """
        claims = Keys(self.namespace).claims(self.broker_id, queue_name)
        try:
            message_ids = self.client.smembers(claims)
            if message_ids:
                log.warning(
                    "giving back %d delayed message(s) dropped on a connection error", len(message_ids)
                )
                self.do_requeue(queue_name, *message_ids)
        except REDIS_DOWN as error:
            raise ConnectionClosed(error) from None


class DecodeSafeConsumer(Consumer):
    """A Redis consumer that dead-letters a message it cannot decode instead of failing on it."""

    def __init__(self, broker: RedisBroker, queue_name: str, consumer: Consumer) -> None:
        self.broker = broker
        self.queue_name = queue_name
        self.consumer = consumer

    def __next__(self) -> MessageProxy | None:
        while True:
            try:
                return next(self.consumer)
            except DecodeError as error:
                self._bury(error)
            except redis.OutOfMemoryError as error:
                raise ConnectionClosed(error) from None

    def _bury(self, error: DecodeError) -> None:
        reason = f"undecodable message: {type(error.error).__name__}: {error.error}"
        try:
            message_id = bury_undecodable(self.broker, self.queue_name, error.data, reason)
        except REDIS_DOWN as down:
            raise ConnectionClosed(down) from None
        log.error("moved message %s of queue %s to the dead letters: %s", message_id, self.queue_name, reason)

    def ack(self, message: MessageProxy) -> None:
        try:
            self.consumer.ack(message)
        except redis.OutOfMemoryError as error:  # Dramatiq's worker retries it as a connection error
            raise ConnectionClosed(error) from None

    def nack(self, message: MessageProxy) -> None:
        try:
            self.consumer.nack(message)
        except redis.OutOfMemoryError as error:
            raise ConnectionClosed(error) from None

    def requeue(self, messages: Iterable[MessageProxy]) -> None:
        try:
            self.consumer.requeue(messages)
        except redis.OutOfMemoryError as error:
            raise ConnectionClosed(error) from None

    def close(self) -> None:
        self.consumer.close()


class DeadWorkerRecovery(Middleware):
    """In each worker process, a thread that gives dead workers' claimed messages back in time.

    It runs Dramatiq's own maintenance (the ``dispatch.lua`` branch that requeues the claims of
    workers whose heartbeat is older than the timeout, and expires old dead letters) with a
    harmless ``qsize`` command, on the ready and delay queues of both services: a fetcher process
    recovers a dead importer's chunks as well as a dead fetcher's fetches.
    """

    def __init__(self, settings: Settings) -> None:
        self.queues = [
            name
            for queue in (settings.fetch_queue, settings.import_queue)
            for name in (queue, dq_name(queue))
        ]
        self.interval_s = settings.maintenance_interval_ms / 1000
        self._stop = threading.Event()

    def after_worker_boot(self, broker: Broker, worker: Any) -> None:
        self._stop.clear()
        thread = threading.Thread(target=self._run, args=(broker,), name="dead-worker-recovery", daemon=True)
        thread.start()

    def before_worker_shutdown(self, broker: Broker, worker: Any) -> None:
        self._stop.set()

    def _run(self, broker: Broker) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                recover_dead_workers(cast_redis(broker), self.queues)
            except redis.RedisError as error:  # Redis away: the next round tries again
                log.debug("dead-worker recovery skipped: %s", error)
            except Exception:
                log.exception("dead-worker recovery failed; trying again in %.0f s", self.interval_s)


def recover_dead_workers(broker: RedisBroker, queues: Iterable[str]) -> None:
    """Run Dramatiq's maintenance now on these queues: dead workers' claims go back to them."""
    dispatch = broker.scripts["dispatch"]
    for queue in queues:
        # The arguments of dispatch.lua: command, timestamp, queue, worker, heartbeat timeout,
        # dead message TTL, do_maintenance, max unpack size.
        dispatch(
            args=[
                "qsize",
                current_millis(),
                queue,
                broker.broker_id,
                broker.heartbeat_timeout,
                broker.dead_message_ttl,
                1,
                broker._max_unpack_size(),
            ],
            keys=[broker.namespace],
        )


def cast_redis(broker: Broker) -> RedisBroker:
    assert isinstance(broker, RedisBroker)
    return broker
