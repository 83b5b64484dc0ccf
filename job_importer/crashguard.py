"""Messages that kill their worker: dead-lettered after a few crashes instead of delivered for ever.

Dramatiq's Redis broker hands the messages of a worker that died (kill -9, out of memory, a crash
in a C extension) to another worker once its heartbeat is late, without counting a retry. A
message that kills every worker that takes it is therefore delivered for ever, and each time it
takes down the other messages that worker was processing. :class:`CrashGuard` counts the
deliveries of each message that never finished, in one Redis hash (message id -> deliveries
begun): a delivery adds one, any ending (success, failure, retry, skip) removes the entry. A message
that starts with ``limit`` unfinished deliveries behind it is failed without running, so Dramatiq
dead-letters it, with the reason on record.

A worker that dies takes down every message it was processing, and each of them counts one crash.
So that an innocent message cannot be counted again and again beside the one that kills, a
message with a crash behind it runs alone in its worker process: the others wait until it is
done, and start counting only once they run.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, cast

import redis
from dramatiq.middleware import Middleware, SkipMessage

from job_importer.accounting import record_death
from job_importer.keys import Keys, redis_of
from job_importer.settings import Settings

if TYPE_CHECKING:
    from dramatiq.broker import Broker, MessageProxy
    from dramatiq.brokers.redis import RedisBroker

log = logging.getLogger(__name__)


class RunAlone:
    """Messages run side by side, except one that must run alone: it waits for the others to
    finish, and none starts while it runs or waits (a writer-preferring readers-writer lock)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._side_by_side = 0
        self._alone = False
        self._waiting_alone = 0

    def enter_side_by_side(self) -> None:
        with self._changed:
            self._changed.wait_for(lambda: not self._alone and not self._waiting_alone)
            self._side_by_side += 1

    def leave_side_by_side(self) -> None:
        with self._changed:
            self._side_by_side -= 1
            self._changed.notify_all()

    def enter_alone(self) -> None:
        with self._changed:
            self._waiting_alone += 1
            self._changed.wait_for(lambda: not self._alone and not self._side_by_side)
            self._waiting_alone -= 1
            self._alone = True

    def leave_alone(self) -> None:
        with self._changed:
            self._alone = False
            self._changed.notify_all()


class CrashGuard(Middleware):
    """Dead-letters a message that took its worker down ``settings.worker_crash_limit`` times."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.key = Keys(settings.queue_namespace).deliveries()
        self.running = RunAlone()
        self._held = threading.local()  # how this thread's message runs: "side by side" or "alone"

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        # A message is counted only while it may run: whoever dies while it waits is not its doing.
        self._enter("side by side")
        try:
            crashes = self._count(broker, message, 1)
            if crashes == 0:
                return
            self._count(broker, message, -1)  # not run yet: it waits to run alone
            self._leave()
            self._enter("alone")
            crashes = self._count(broker, message, 1)
        except redis.RedisError as error:  # the guard must not stop work Redis will see through
            log.warning("could not count the deliveries of message %s: %s", message.message_id, error)
            return
        if crashes < self.settings.worker_crash_limit:
            log.warning(
                "message %s: its worker died %d time(s) with it; running it alone",
                message.message_id,
                crashes,
            )
            return
        reason = (
            f"WorkerCrashes: the worker died {crashes} times while processing this message "
            "(killed, or out of memory?); it is not run again"
        )
        log.error("message %s: %s", message.message_id, reason)
        message.fail()  # Dramatiq rejects (dead-letters) a failed message instead of acking it
        record_death(self.settings, cast("RedisBroker", broker), message, reason)
        raise SkipMessage(reason)

    def _count(self, broker: Broker, message: MessageProxy, change: int) -> int:
        """Add ``change`` to the message's unfinished deliveries; returns the earlier ones (crashes)."""
        return int(redis_of(broker).hincrby(self.key, message.message_id, change)) - 1

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any | None = None,
        exception: BaseException | None = None,
    ) -> None:
        self._finished(broker, message)

    def after_skip_message(self, broker: Broker, message: MessageProxy) -> None:
        self._finished(broker, message)

    def _finished(self, broker: Broker, message: MessageProxy) -> None:
        try:
            redis_of(broker).hdel(self.key, message.message_id)
        except redis.RedisError as error:  # a leftover entry only counts one crash too many, once
            log.warning("could not clear the deliveries of message %s: %s", message.message_id, error)
        finally:
            self._leave()

    def _enter(self, mode: str) -> None:
        if mode == "alone":
            self.running.enter_alone()
        else:
            self.running.enter_side_by_side()
        self._held.mode = mode

    def _leave(self) -> None:
        mode = getattr(self._held, "mode", None)
        self._held.mode = None
        if mode == "alone":
            self.running.leave_alone()
        elif mode == "side by side":
            self.running.leave_side_by_side()
