"""Fixtures for the real services the tests run against.

* a private ``redis-server`` per test session on a free port (never the user's Redis);
* MongoDB: ``MONGODB_URL`` when set (a real MongoDB), else the mongoeco stand-in in a child process;
* per test: a fresh Redis namespace and MongoDB database, so tests never see each other's data;
* a loopback feed server, and real Dramatiq worker processes of both services.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from dramatiq.brokers.redis import RedisBroker

from cli.workers import Service, worker_argv, worker_env, worker_queue
from devstack.feedserver import FeedServer
from devstack.stack import start_embedded_mongo, start_redis
from job_importer import history
from job_importer.broker import build_broker
from job_importer.control import live_workers
from job_importer.db import Store, open_store
from job_importer.settings import FeedConfig, Settings

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05, what: str = "condition"
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    port = free_port()
    process = start_redis(port, lambda message: None)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def mongodb_url() -> Iterator[str]:
    if os.environ.get("MONGODB_URL"):
        yield os.environ["MONGODB_URL"]
        return
    process, port = start_embedded_mongo(free_port())
    yield f"mongodb://127.0.0.1:{port}/?directConnection=true"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def settings(redis_url: str, mongodb_url: str) -> Settings:
    """Settings isolated to this test, tuned so retries and redelivery happen in test time."""
    return make_settings(redis_url, mongodb_url)


def make_settings(redis_url: str, mongodb_url: str, **overrides: Any) -> Settings:
    """Settings with a fresh Redis namespace and MongoDB database, tuned for test time."""
    tag = uuid.uuid4().hex[:10]
    defaults: dict[str, Any] = dict(
        redis_url=redis_url,
        mongodb_url=mongodb_url,
        mongodb_db=f"test_{tag}",
        mongodb_timeout_ms=2000,
        queue_namespace=f"t{tag}",
        feeds=[],
        worker_concurrency=4,
        worker_processes=1,
        retry_base_ms=100,
        retry_max_ms=2000,
        heartbeat_timeout_ms=3000,
        maintenance_chance=200_000,
        worker_shutdown_timeout_ms=20_000,
        fetch_connect_timeout_s=2,
        fetch_read_timeout_s=3,
        fetch_total_timeout_s=5,
        worker_rate_limit_max=0,
        metrics_enabled=False,
        # Every test's feeds share one loopback host: politeness per host is tested on its own
        # (tests/fetcher/test_politeness*.py); elsewhere it would only queue the fetches up.
        fetch_per_host_concurrency=0,
        fetch_per_host_interval_ms=0,
    )
    return Settings(**{**defaults, **overrides})


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    store = open_store(settings)
    yield store
    store.db.client.drop_database(settings.mongodb_db)


@pytest.fixture
def broker(settings: Settings) -> Iterator[RedisBroker]:
    broker = build_broker(settings)
    yield broker
    for key in broker.client.scan_iter(match=f"{settings.queue_namespace}:*", count=1000):
        broker.client.delete(key)


@pytest.fixture
def redis_client(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(settings.redis_url)


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@dataclass
class Workers:
    """Real worker processes of the services, started with a test's settings."""

    settings: Settings
    processes: dict[str, list[subprocess.Popen[bytes]]] = field(default_factory=dict)
    log_dir: Path = field(default_factory=lambda: ARTIFACTS / "worker-logs")

    def start(self, service: Service, **overrides: Any) -> subprocess.Popen[bytes]:
        settings = self.settings.model_copy(update=overrides)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = (
            self.log_dir / f"{settings.queue_namespace}-{service}-{len(self.processes.get(service, []))}.log"
        )
        with open(log_path, "wb") as log:  # the child keeps its own copy of the descriptor
            process = subprocess.Popen(
                worker_argv(service, settings),
                env={**os.environ, **settings.as_env(), **worker_env(service, settings)},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # so kill() reaches Dramatiq's forked worker processes too
            )
        self.processes.setdefault(service, []).append(process)
        return process

    def wait_ready(self, service: Service, count: int = 1) -> None:
        client = redis.Redis.from_url(self.settings.redis_url)
        queue = worker_queue(service, self.settings)
        wait_for(
            lambda: live_workers(client, self.settings.queue_namespace, queue) >= count,
            60,
            what=f"{service} workers",
        )

    def start_both(self) -> None:
        self.start("fetcher")
        self.start("importer")
        self.wait_ready("fetcher")
        self.wait_ready("importer")

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """kill -9 the whole worker group: the master and its forked worker processes."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def terminate(self, process: subprocess.Popen[bytes], timeout: float = 60) -> int:
        """A graceful stop, as Kubernetes does it: SIGTERM to the main process only, which passes
        it on to its worker processes (a second SIGTERM would make them stop at once)."""
        process.send_signal(signal.SIGTERM)
        return process.wait(timeout=timeout)

    def stop_all(self) -> None:
        """kill -9 every worker group still running: a test's end, not a shutdown under test (the
        graceful ones are tests/reliability/test_worker_crashes.py's), and each test's queues and
        database are its own. A graceful stop costs a second or more per test in the suite."""
        for group in self.processes.values():
            for process in group:
                if process.poll() is None:
                    self.kill(process)


@pytest.fixture
def workers(settings: Settings, store: Store, broker: RedisBroker) -> Iterator[Workers]:
    pool = Workers(settings)
    yield pool
    pool.stop_all()


def run_import(
    settings: Settings, store: Store, broker: RedisBroker, feeds: list[FeedConfig], timeout: float = 90
) -> list[dict[str, Any]]:
    """Start an import as the CLI/API would and wait until every run has finished."""
    from job_importer.trigger import start_import

    started = start_import(settings, store, broker, feeds, "cli")
    return wait_for_runs(store, started.run_ids, timeout)


def wait_for_runs(store: Store, run_ids: list[str], timeout: float = 90) -> list[dict[str, Any]]:
    def finished() -> list[dict[str, Any]] | None:
        runs = [history.get_run(store, run_id) for run_id in run_ids]
        if all(run is not None and run["status"] in history.TERMINAL for run in runs):
            return [run for run in runs if run is not None]
        return None

    return wait_for(finished, timeout, interval=0.1, what=f"runs {run_ids} to finish")


def assert_adds_up(run: dict[str, Any]) -> None:
    """The history invariant: every fetched entry has exactly one outcome."""
    outcomes = run["new"] + run["updated"] + run["unchanged"] + run["duplicates"] + run["failed"]
    assert run["fetched"] == outcomes, run
    assert run["imported"] == run["new"] + run["updated"], run
