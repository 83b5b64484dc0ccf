"""Messages that kill their worker: dead-lettered after a few crashes instead of delivered for ever.

Dramatiq's Redis broker hands the messages of a worker that died (kill -9, out of memory, a crash
in a C extension) to another worker once its heartbeat is late, without counting a retry. A
message that kills every worker that takes it is therefore delivered for ever, and each time it
takes down the other messages that worker was processing. :class:`CrashGuard` counts the
deliveries of each message that never finished, in one Redis hash (message id -> deliveries
begun): a delivery adds one, any ending (success, failure, retry, skip) removes the entry. A message
that starts with ``limit`` unfinished deliveries behind it is failed without running, so Dramatiq
dead-letters it, with the reason on record.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from dramatiq.middleware import Middleware, SkipMessage

from .deadletters import record_death
from .settings import Settings

log = logging.getLogger(__name__)


def crashes_key(namespace: str) -> str:
    return f"{namespace}:__deliveries__"


class CrashGuard(Middleware):
    """Dead-letters a message that took its worker down ``settings.worker_crash_limit`` times."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.key = crashes_key(settings.queue_namespace)

    def before_process_message(self, broker: Any, message: Any) -> None:
        try:
            crashes = int(broker.client.hincrby(self.key, message.message_id, 1)) - 1
        except redis.RedisError as error:  # the guard must not stop work Redis will see through
            log.warning("could not count the deliveries of message %s: %s", message.message_id, error)
            return
        if crashes < self.settings.worker_crash_limit:
            return
        reason = (
            f"WorkerCrashes: the worker died {crashes} times while processing this message "
            "(killed, or out of memory?); it is not run again"
        )
        log.error("message %s: %s", message.message_id, reason)
        message.fail()  # Dramatiq rejects (dead-letters) a failed message instead of acking it
        record_death(self.settings, broker, message, reason)
        raise SkipMessage(reason)

    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: BaseException | None = None
    ) -> None:
        self._finished(broker, message)

    def after_skip_message(self, broker: Any, message: Any) -> None:
        self._finished(broker, message)

    def _finished(self, broker: Any, message: Any) -> None:
        try:
            broker.client.hdel(self.key, message.message_id)
        except redis.RedisError as error:  # a leftover entry only counts one crash too many, once
            log.warning("could not clear the deliveries of message %s: %s", message.message_id, error)
