"""What every worker process sets up before its actors run.

Both services' actor modules start with :func:`start_worker_process` (log redaction, settings,
the broker with the worker-only middleware) and build their per-process context lazily with
:class:`PerProcess`, because Dramatiq imports the actor module before it forks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from dramatiq.brokers.redis import RedisBroker

from job_importer import metrics
from job_importer.broker import build_broker
from job_importer.logs import configure_logging
from job_importer.redact import install_log_redaction
from job_importer.settings import Settings, get_settings


class PerProcess[T]:
    """A value built on first use in each worker process (after Dramatiq has forked), thread-safe.

    Connections must not be shared across a fork, so actors build their context lazily.
    """

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._value: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        with self._lock:
            if self._value is None:
                self._value = self._build()
            return self._value


def start_worker_process() -> tuple[Settings, RedisBroker]:
    """The settings and the broker of a worker process, with its logs redacted."""
    install_log_redaction()  # Dramatiq logs failed messages with their arguments: a feed's URL
    settings = get_settings()
    configure_logging(settings, keep_text_format=True)
    return settings, worker_broker(settings)


def worker_broker(settings: Settings) -> RedisBroker:
    """The broker of a worker process: ours plus, when metrics are on, Dramatiq's Prometheus exporter.

    It serves /metrics on ``dramatiq_prom_port`` from the multiprocess files in ``dramatiq_prom_db``;
    both are set per service by ``cli.workers.worker_env`` before the process starts.
    """
    metrics.configure_feeds(settings.feed_configs())  # their URLs become `feed` label values
    if not settings.metrics_enabled:
        return build_broker(settings)
    from dramatiq.middleware.prometheus import Prometheus  # reads its environment on import

    return build_broker(settings, [Prometheus()])
