"""The pipeline end to end on loopback: feed server -> fetcher -> Redis -> importer -> store.

A private redis-server and the MongoDB stand-in (or ``--mongodb-url``) are started for the
benchmark; the fetcher and importer run as the real worker processes with ``bench.probe``
loaded, which counts their MongoDB commands. Each run is an import of every benchmark feed
through the real trigger, timed from the trigger until every run has completed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import redis
from dramatiq.brokers.redis import RedisBroker
from pymongo.errors import PyMongoError

from bench import feeds as bench_feeds
from bench.probe import FLUSH_S
from bench.stats import summary
from cli.workers import Service, worker_argv, worker_queue
from devstack.feedserver import FeedServer
from devstack.stack import start_redis
from job_importer import history
from job_importer.broker import build_broker
from job_importer.control import live_workers
from job_importer.db import Store, open_store
from job_importer.settings import FeedConfig, Settings
from job_importer.trigger import start_import

ROOT = Path(__file__).resolve().parent.parent
OUTCOMES = ("new", "updated", "unchanged", "duplicates", "failed")


@dataclass
class Stack:
    """Redis, the store and the feed server for one benchmark."""

    redis_url: str
    redis_pid: int
    mongodb_url: str
    store_pid: int | None  # None: an external MongoDB (its CPU is not ours to see)
    server: FeedServer
    probe_dir: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def stack(mongodb_url: str | None) -> Iterator[Stack]:
    started: list[subprocess.Popen[Any]] = []
    try:
        redis_port = free_port()
        redis_process = start_redis(redis_port, lambda message: None)
        started.append(redis_process)
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        store_pid = None
        if mongodb_url is None:
            store = subprocess.Popen(
                [sys.executable, "-m", "devstack.embedded_mongo", "--port", str(free_port())],
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            started.append(store)
            line = (store.stdout.readline() if store.stdout else "").split()
            if len(line) != 2 or line[0] != "ready":
                raise RuntimeError("the MongoDB stand-in did not start")
            mongodb_url = f"mongodb://127.0.0.1:{line[1]}/?directConnection=true"
            store_pid = store.pid
        with FeedServer() as server, tempfile.TemporaryDirectory(prefix="bench-probe-") as probe_dir:
            yield Stack(redis_url, redis_process.pid, mongodb_url, store_pid, server, Path(probe_dir))
    finally:
        for process in reversed(started):
            process.terminate()
            process.wait(timeout=30)


@dataclass
class Workers:
    """One fetcher group and one importer group (each a dramatiq master and its processes)."""

    settings: Settings
    probe_dir: Path
    groups: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, service: Service, processes: int) -> None:
        settings = self.settings.model_copy(update={"worker_processes": processes})
        argv = worker_argv(service, settings)
        argv[4:4] = ["bench.probe"]  # after the actors module: dramatiq imports both
        env = {**os.environ, **settings.as_env(), "BENCH_PROBE_DIR": str(self.probe_dir)}
        self.groups[service] = subprocess.Popen(
            argv,
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def wait_ready(self, service: Service, count: int, timeout_s: float = 90) -> None:
        client = redis.Redis.from_url(self.settings.redis_url)
        queue = worker_queue(service, self.settings)
        deadline = time.monotonic() + timeout_s
        while live_workers(client, self.settings.queue_namespace, queue) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{service} workers did not come up")
            time.sleep(0.1)

    def processes(self, service: str) -> list[psutil.Process]:
        master = psutil.Process(self.groups[service].pid)
        return [master, *master.children(recursive=True)]

    def stop(self) -> None:
        for group in self.groups.values():
            os.killpg(group.pid, signal.SIGTERM)
        for group in self.groups.values():
            try:
                group.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(group.pid, signal.SIGKILL)
                group.wait(timeout=10)


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def peak_rss(pid: int) -> int:
    """The process's high-water resident set (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def probe_counts(probe_dir: Path, pids: set[int]) -> tuple[Counter[str], Counter[str]]:
    """MongoDB commands by name, and Redis commands/round trips, of these worker processes."""
    store: Counter[str] = Counter()
    redis_calls: Counter[str] = Counter()
    for path in probe_dir.glob("*.json"):
        report = json.loads(path.read_text())
        if report["pid"] in pids:
            store.update(report["commands"])
            redis_calls.update(report["redis"])
    return store, redis_calls


def redis_counters(client: redis.Redis) -> tuple[int, Counter[str]]:
    stats = client.info("commandstats")
    calls = Counter({name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()})
    return int(client.info("stats")["total_commands_processed"]), calls


@dataclass
class Run:
    """What one import measured."""

    items: int
    seconds: float
    cpu: dict[str, float]  # fetcher, importer, store, redis: CPU-seconds
    redis_commands: int  # sent by our worker processes
    redis_round_trips: int
    redis_server_commands: int  # executed by the server, the ones Lua scripts call included
    redis_by_command: Counter[str]
    store_commands: Counter[str]
    outcomes: dict[str, int]

    def metrics(self) -> dict[str, float]:
        per_1000 = 1000 / self.items
        ours = self.cpu["fetcher"] + self.cpu["importer"]
        return {
            "items_per_s": self.items / self.seconds,
            "our_cpu_s_per_1000_items": ours * per_1000,
            "fetcher_cpu_s_per_1000_items": self.cpu["fetcher"] * per_1000,
            "importer_cpu_s_per_1000_items": self.cpu["importer"] * per_1000,
            "store_cpu_s_per_1000_items": self.cpu["store"] * per_1000,
            "redis_cpu_s_per_1000_items": self.cpu["redis"] * per_1000,
            "redis_commands_per_item": self.redis_commands / self.items,
            "redis_round_trips_per_item": self.redis_round_trips / self.items,
            "redis_server_commands_per_item": self.redis_server_commands / self.items,
            "store_round_trips_per_item": sum(self.store_commands.values()) / self.items,
        }


class Bench:
    """One benchmark stack with one set of workers: runs imports and measures them."""

    def __init__(self, stack: Stack, importers: int, threads: int, batch_size: int | None) -> None:
        tag = uuid.uuid4().hex[:8]
        overrides: dict[str, Any] = {
            "redis_url": stack.redis_url,
            "mongodb_url": stack.mongodb_url,
            "mongodb_db": f"bench_{tag}",
            "queue_namespace": f"bench{tag}",
            "feeds": [],
            "mongodb_timeout_ms": 60_000,  # the stand-in, one Python process, can be busy for seconds
            "worker_concurrency": threads,
            "worker_rate_limit_max": 0,  # the default limiter (100 chunks/s) would cap the run
            "metrics_enabled": False,  # several importer processes would share one port
        }
        if batch_size:
            overrides["worker_batch_size"] = batch_size
        self.settings = Settings(**overrides)
        self.stack = stack
        self.importers = importers
        self.store: Store = open_store(self.settings)
        self.broker: RedisBroker = build_broker(self.settings)
        self.redis = redis.Redis.from_url(stack.redis_url)
        self.workers = Workers(self.settings, stack.probe_dir)

    def __enter__(self) -> Bench:
        self.workers.start("fetcher", 1)
        self.workers.start("importer", self.importers)
        self.workers.wait_ready("fetcher", 1)
        self.workers.wait_ready("importer", self.importers)
        return self

    def __exit__(self, *exc: object) -> None:
        self.workers.stop()

    def serve(self, name: str, body: bytes) -> FeedConfig:
        self.stack.server.routes[f"/{name}.xml"] = body
        return FeedConfig(url=self.stack.server.url(f"/{name}.xml"), source=name)

    def run(self, feeds: list[FeedConfig], timeout_s: float = 1800) -> Run:
        ours = {service: self.workers.processes(service) for service in ("fetcher", "importer")}
        pids = {process.pid for group in ours.values() for process in group}
        others = {"redis": [psutil.Process(self.stack.redis_pid)]}
        if self.stack.store_pid is not None:
            others["store"] = [psutil.Process(self.stack.store_pid)]
        groups = {**ours, **others}
        cpu_before = {name: cpu_seconds(group) for name, group in groups.items()}
        redis_before, calls_before = redis_counters(self.redis)
        store_before, redis_calls_before = probe_counts(self.stack.probe_dir, pids)

        started = time.perf_counter()
        run_ids = start_import(self.settings, self.store, self.broker, feeds, "cli").run_ids
        runs = self._wait(run_ids, timeout_s)
        seconds = time.perf_counter() - started
        cpu_after = {name: cpu_seconds(group) for name, group in groups.items()}

        time.sleep(FLUSH_S)  # acks and releases after the last write
        self._wait_for_probes(pids, time.time())
        redis_after, calls_after = redis_counters(self.redis)
        store_after, redis_calls_after = probe_counts(self.stack.probe_dir, pids)
        outcomes = {name: sum(int(run.get(name, 0)) for run in runs) for name in OUTCOMES}
        items = sum(int(run["fetched"]) for run in runs)
        if any(run["status"] != "completed" for run in runs) or items != sum(outcomes.values()):
            raise RuntimeError(f"an import did not complete or add up: {runs}")
        cpu = {name: cpu_after[name] - cpu_before[name] for name in groups}
        cpu.setdefault("store", 0.0)
        return Run(
            items=items,
            seconds=seconds,
            cpu=cpu,
            redis_commands=redis_calls_after["commands"] - redis_calls_before["commands"],
            redis_round_trips=redis_calls_after["round_trips"] - redis_calls_before["round_trips"],
            redis_server_commands=redis_after - redis_before - 2,  # less our two INFO calls
            redis_by_command=calls_after - calls_before,
            store_commands=store_after - store_before,
            outcomes=outcomes,
        )

    def _wait_for_probes(self, pids: set[int], since: float) -> None:
        """Until every worker process has written its counts after ``since``."""
        deadline = time.monotonic() + 10 * FLUSH_S
        while time.monotonic() < deadline:
            fresh = {
                int(path.stem) for path in self.stack.probe_dir.glob("*.json") if path.stat().st_mtime > since
            }
            if {pid for pid in pids if (self.stack.probe_dir / f"{pid}.json").exists()} <= fresh:
                return
            time.sleep(FLUSH_S / 5)

    def _wait(self, run_ids: list[str], timeout_s: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                runs = list(
                    self.store.runs.find({"_id": {"$in": run_ids}}, {"chunks_done": 0, "failures": 0})
                )
            except PyMongoError:  # a busy stand-in; the workers carry on regardless
                runs = []
            if len(runs) == len(run_ids) and all(run["status"] in history.TERMINAL for run in runs):
                return runs
            if time.monotonic() > deadline:
                raise RuntimeError(f"the import did not finish within {timeout_s:.0f} s")
            time.sleep(0.05)

    def peak_memory(self) -> dict[str, list[int]]:
        memory = {
            service: [peak_rss(process.pid) for process in self.workers.processes(service)]
            for service in ("fetcher", "importer")
        }
        memory["redis"] = [peak_rss(self.stack.redis_pid)]
        if self.stack.store_pid is not None:
            memory["store"] = [peak_rss(self.stack.store_pid)]
        return memory


def measure(
    *,
    mongodb_url: str | None,
    importer_counts: list[int],
    feeds: int,
    items: int,
    description_bytes: int,
    runs: int,
    threads: int,
    batch_size: int | None,
    text: str = "ascii",
) -> dict[str, Any]:
    """For each importer count: ``runs`` first imports and re-imports (10% changed) of the feeds."""
    results: dict[str, Any] = {"importers": {}}
    with stack(mongodb_url) as bench_stack:
        results["store"] = (
            "external MongoDB"
            if bench_stack.store_pid is None
            else "mongoeco stand-in (devstack.embedded_mongo)"
        )
        for count in importer_counts:
            with Bench(bench_stack, count, threads, batch_size) as bench:
                warmup = bench_feeds.jobs(min(items, 200), description_bytes, start=10_000_000, seed=99)
                bench.run([bench.serve("warmup", bench_feeds.feed(warmup))])
                samples: dict[str, list[Run]] = {"first import": [], "re-import, 10% changed": []}
                for repetition in range(runs):
                    batches = [
                        bench_feeds.jobs(
                            items,
                            description_bytes,
                            start=(repetition * 100 + feed) * 1_000_000,
                            seed=feed,
                            text=text,
                        )
                        for feed in range(feeds)
                    ]
                    names = [f"r{repetition}f{feed}" for feed in range(feeds)]
                    first = [
                        bench.serve(name, bench_feeds.feed(jobs))
                        for name, jobs in zip(names, batches, strict=True)
                    ]
                    samples["first import"].append(bench.run(first))
                    again = [
                        bench.serve(name, bench_feeds.feed(jobs, changed=True))
                        for name, jobs in zip(names, batches, strict=True)
                    ]
                    samples["re-import, 10% changed"].append(bench.run(again))
                results["importers"][str(count)] = {
                    "scenarios": {name: describe(runs_) for name, runs_ in samples.items()},
                    "peak_rss_bytes": bench.peak_memory(),
                }
    return results


def describe(runs: list[Run]) -> dict[str, Any]:
    metrics = [run.metrics() for run in runs]
    last = runs[-1]
    return {
        "items": last.items,
        "outcomes": last.outcomes,
        **{name: summary([m[name] for m in metrics]) for name in metrics[0]},
        "redis_server_commands_by_name": dict(last.redis_by_command.most_common(12)),
        "store_commands_by_name": dict(last.store_commands),
    }
