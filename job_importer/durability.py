"""Two of Dramatiq's Redis edges, closed: nothing is lost when Redis goes away for a moment.

* A message whose actor fails while Redis is unreachable: Dramatiq's Retries middleware cannot
  enqueue the retry, logs the error, and the worker then acknowledges the original once Redis is
  back. The message is gone. :class:`DurableRetries` keeps trying to enqueue the retry until Redis
  answers, as Dramatiq itself does for acknowledgements.
* Delayed messages (retries with backoff, Retry-After) wait in the worker's memory, claimed in
  Redis. On a connection error Dramatiq drops that memory, but the claims stay, and a live worker's
  claims are never handed out again: the messages wait for the worker to restart.
  :class:`DurableRedisBroker` gives them back to their delay queue when the consumer reconnects.
* A message that is not a Dramatiq message at all (only possible by writing to Redis directly)
  makes Dramatiq's consumer fail and restart, dropping the messages it had prefetched with it
  while they stay claimed: they wait for the worker to restart, and the bad message poisons it
  again. :class:`DurableRedisBroker`'s consumers move such a message to the dead letters instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

import redis
from dramatiq.broker import Broker, Consumer, MessageProxy
from dramatiq.brokers.redis import RedisBroker
from dramatiq.errors import ConnectionClosed, DecodeError
from dramatiq.middleware import Retries

from job_importer.deadletters import bury_undecodable
from job_importer.keys import Keys

log = logging.getLogger(__name__)

#: Pause between attempts to enqueue a retry while Redis is unreachable.
RETRY_ENQUEUE_PAUSE_S = 1.0
REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError)


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
        while True:
            try:
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

    def _bury(self, error: DecodeError) -> None:
        reason = f"undecodable message: {type(error.error).__name__}: {error.error}"
        try:
            message_id = bury_undecodable(self.broker, self.queue_name, error.data, reason)
        except REDIS_DOWN as down:
            raise ConnectionClosed(down) from None
        log.error("moved message %s of queue %s to the dead letters: %s", message_id, self.queue_name, reason)

    def ack(self, message: MessageProxy) -> None:
        self.consumer.ack(message)

    def nack(self, message: MessageProxy) -> None:
        self.consumer.nack(message)

    def requeue(self, messages: Iterable[MessageProxy]) -> None:
        self.consumer.requeue(messages)

    def close(self) -> None:
        self.consumer.close()
