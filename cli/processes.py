"""What a container runs: `job-importer worker`, `schedule`, `api`."""

from __future__ import annotations

import os
import signal
import threading
from typing import Annotated

import typer

from cli.workers import Service, worker_argv, worker_env
from job_importer.broker import build_broker
from job_importer.db import open_store
from job_importer.logs import configure_logging
from job_importer.settings import get_settings


def worker(service: Annotated[str, typer.Argument(help="fetcher or importer")]) -> None:
    """Run the Dramatiq workers of one service (replaces this process)."""
    if service not in ("fetcher", "importer"):
        raise typer.BadParameter("fetcher or importer", param_hint="SERVICE")
    chosen: Service = "fetcher" if service == "fetcher" else "importer"
    settings = get_settings()
    argv = worker_argv(chosen, settings)
    os.execve(argv[0], argv, {**os.environ, **worker_env(chosen, settings)})


def schedule(once: Annotated[bool, typer.Option(help="Enqueue the current slot, then exit")] = False) -> None:
    """Enqueue one fetch per feed per cron slot (SCHEDULE_CRON), exactly once across schedulers."""
    from services.scheduler.slots import run_scheduler

    settings = get_settings()
    configure_logging(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # Kubernetes stops a Job's pod with SIGTERM
    try:
        run_scheduler(settings, open_store(settings), build_broker(settings), once=once, stop=stop)
    except KeyboardInterrupt:
        stop.set()


def api(
    host: Annotated[str | None, typer.Option(help="Default: API_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="Default: API_PORT")] = None,
) -> None:
    """Serve the HTTP API, the admin UI (/ui/) and /metrics."""
    import uvicorn

    from services.api.app import create_app

    settings = get_settings()
    configure_logging(settings)
    if host:  # the address it listens on decides the default Host allow-list
        settings = settings.model_copy(update={"api_host": host})
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=port or settings.api_port,
        log_config=None,  # ours (configure_logging): one format for every line
        log_level=settings.log_level.lower(),
        access_log=False,  # services/api/access.py logs each request instead
        timeout_graceful_shutdown=5,  # open event streams would otherwise hold shutdown
    )
