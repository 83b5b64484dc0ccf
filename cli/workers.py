"""Command lines of the services' worker processes (Dramatiq's own CLI does the supervision).

The CLI is the one place that names the services' actor modules: it launches them.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from typing import Literal

import redis

from job_importer.control import live_workers
from job_importer.settings import Settings

Service = Literal["fetcher", "importer"]

ACTOR_MODULES: dict[str, str] = {
    "fetcher": "services.fetcher.actors",
    "importer": "services.importer.actors",
}


def worker_queue(service: Service, settings: Settings) -> str:
    return settings.fetch_queue if service == "fetcher" else settings.import_queue


def worker_argv(service: Service, settings: Settings) -> list[str]:
    """``python -m dramatiq`` for one service: its actors, its queue, our process/thread counts."""
    return [
        sys.executable,
        "-m",
        "dramatiq",
        ACTOR_MODULES[service],
        "--processes",
        str(settings.worker_processes),
        "--threads",
        str(settings.worker_concurrency),
        "--queues",
        worker_queue(service, settings),
        "--worker-shutdown-timeout",
        str(settings.worker_shutdown_timeout_ms),
    ]


def worker_env(service: Service, settings: Settings) -> dict[str, str]:
    """Environment for one service's worker processes: where and how they export metrics.

    Dramatiq's Prometheus middleware serves ``dramatiq_prom_db`` on ``dramatiq_prom_port``; with
    ``PROMETHEUS_MULTIPROC_DIR`` pointing at the same fresh directory from the start, our own
    metrics (job_importer.metrics) are multiprocess values in that registry too.
    """
    if not settings.metrics_enabled:
        return {}
    port = settings.fetcher_metrics_port if service == "fetcher" else settings.importer_metrics_port
    # One directory per service and port (only one group can serve a port), emptied at launch.
    # Private to this user: the files hold every metric, feed labels included.
    directory = os.path.join(tempfile.gettempdir(), f"job-importer-metrics-{service}-{port}")
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory, mode=0o700)  # fails if someone else made it meanwhile: never share it
    return {
        "dramatiq_prom_host": settings.metrics_host(),
        "dramatiq_prom_port": str(port),
        "dramatiq_prom_db": directory,
        "PROMETHEUS_MULTIPROC_DIR": directory,
    }


def missing_workers(settings: Settings) -> list[Service]:
    """The services with no live worker on their queue (workers announce themselves every second)."""
    client = redis.Redis.from_url(settings.redis_url)
    services: tuple[Service, ...] = ("fetcher", "importer")
    return [
        service
        for service in services
        if live_workers(client, settings.queue_namespace, worker_queue(service, settings)) == 0
    ]
