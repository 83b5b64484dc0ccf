"""The whole system on one machine: the stack, both services' workers, the scheduler."""

from __future__ import annotations

import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cli.workers import Service, missing_workers, worker_argv, worker_env
from devstack.stack import Say, child_env
from devstack.supervisor import Supervisor
from job_importer.settings import Settings

WORKERS_READY_TIMEOUT_S = 90.0


def workers_alive(settings: Settings) -> bool:
    return not missing_workers(settings)


def start_system(
    settings: Settings, say: Say, *, scheduler: bool, api: bool = False, log_dir: Path | None = None
) -> Supervisor:
    """Start both services' workers (and the scheduler, and the API) as supervised children."""
    supervisor = Supervisor(child_env(settings), say, log_dir)
    services: tuple[Service, ...] = ("fetcher", "importer")
    for service in services:
        supervisor.start(service, worker_argv(service, settings), worker_env(service, settings))
    if scheduler:
        supervisor.start("scheduler", [sys.executable, "-m", "cli", "schedule"])
    if api:
        supervisor.start("api", [sys.executable, "-m", "cli", "api"])
    return supervisor


def taken_ports(settings: Settings) -> list[str]:
    """The ports this system would listen on that something else holds already, described.

    A second `job-importer up` would otherwise start, and its API (or metrics exporter) would fail
    to bind and be restarted every few seconds for ever.
    """
    wanted = [("API_PORT", settings.api_host, settings.api_port)]
    if settings.metrics_enabled:
        wanted += [
            ("FETCHER_METRICS_PORT", settings.metrics_host(), settings.fetcher_metrics_port),
            ("IMPORTER_METRICS_PORT", settings.metrics_host(), settings.importer_metrics_port),
        ]
    taken = []
    for name, host, port in wanted:
        try:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
                probe.bind((host, port))
        except OSError as error:
            taken.append(f"{name} {port} on {host} is not free ({error.strerror})")
    return taken


def wait_for_workers(settings: Settings, timeout_s: float = WORKERS_READY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not workers_alive(settings):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the workers did not come up within {timeout_s:.0f} s")
        time.sleep(0.2)


@contextmanager
def workers_running(settings: Settings, say: Say) -> Iterator[None]:
    """Use the workers that are already running, or run our own for the duration."""
    if workers_alive(settings):
        yield
        return
    log_dir = Path(tempfile.gettempdir()) / "job-importer-logs"
    say(f"no workers are running; starting a fetcher and an importer for this command (logs: {log_dir})")
    supervisor = start_system(settings, say, scheduler=False, log_dir=log_dir)
    stop = threading.Event()
    watcher = threading.Thread(target=supervisor.watch, args=(stop,), daemon=True)
    watcher.start()
    try:
        wait_for_workers(settings)
        yield
    finally:
        stop.set()
        watcher.join()
        supervisor.stop()
