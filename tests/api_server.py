"""The API as it runs for real: `job-importer api` in a child process on a free loopback port.

Used by tests/api and tests/ui, together with the workers, the store and a feed server, as one
:class:`Stack` per test package (starting workers and the API per test would dominate the time).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from dramatiq.brokers.redis import RedisBroker

from devstack.feedserver import FeedServer
from job_importer.broker import build_broker
from job_importer.db import Store, open_store
from job_importer.settings import Settings
from tests.conftest import ARTIFACTS, Workers, free_port, wait_for


class ApiServer:
    def __init__(self, settings: Settings, name: str = "api") -> None:
        self.settings = settings
        self.port = free_port()
        log_dir = ARTIFACTS / "api-logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(log_dir / f"{settings.queue_namespace}-{name}.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cli", "api", "--host", "127.0.0.1", "--port", str(self.port)],
            env={**os.environ, **settings.as_env()},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self._answers, 30, interval=0.1, what="the API to answer /healthz")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=15)

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"the API exited with code {self.process.returncode}; see {self._log.name}")
        try:
            return httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()


@dataclass
class Stack:
    settings: Settings
    store: Store
    broker: RedisBroker
    workers: Workers
    feeds: FeedServer
    api: ApiServer

    @property
    def token(self) -> str:
        assert self.settings.api_token is not None
        return self.settings.api_token.get_secret_value()


@contextmanager
def running_stack(settings: Settings, feeds: FeedServer, *, start_workers: bool = True) -> Iterator[Stack]:
    """Workers of both services (unless told not to) and the API, for these settings."""
    store = open_store(settings)
    broker = build_broker(settings)
    workers = Workers(settings)
    api: ApiServer | None = None
    try:
        if start_workers:
            workers.start_both()
        api = ApiServer(settings)
        yield Stack(settings, store, broker, workers, feeds, api)
    finally:
        if api is not None:
            api.stop()
        workers.stop_all()
        store.db.client.drop_database(settings.mongodb_db)
        for key in broker.client.scan_iter(match=f"{settings.queue_namespace}:*", count=1000):
            broker.client.delete(key)


def metric_value(text: str, name: str, **labels: Any) -> float | None:
    """The value of one sample in a Prometheus text exposition (None when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == str(v) for k, v in labels.items()):
                return float(sample.value)
    return None
