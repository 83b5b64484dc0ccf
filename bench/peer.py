"""``python -m bench --peer seed``: this project against the design it replaces, in one run.

The seed design is a small Node harness (``bench/seed/``: xml2js, BullMQ 5, the MongoDB driver;
see docs/performance.md for what it does). Both sides run on the same redis-server, the same
store (the stand-in, or ``--mongodb-url``) and the same feeds, served by the same loopback feed
server, each in its own queue namespace and database. Runs are interleaved (seed, ours, then
ours, seed for the next repetition) so that both see the same noise on a shared machine.

Each side is triggered the way its users trigger it: the seed by its producer process (fetch,
parse, ``addBulk``), this project by ``job-importer import --wait`` (the CLI process's CPU and
store round trips are counted with the fetcher's). A run ends when every item is written: for
the seed when its worker has written as many items as the producer enqueued, for this project
when the command returns. Redis figures are the server's own (``total_commands_processed``,
the commands Lua scripts call included) and its CPU; store figures are the store process's CPU
and the round trips the clients sent (pymongo's and the Node driver's command monitoring).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

import psutil
import redis

from bench import feeds as bench_feeds
from bench.e2e import ROOT, Bench, Stack, cpu_seconds, probe_counts, stack
from bench.probe import FLUSH_S
from bench.stats import summary

SEED_DIR = ROOT / "bench" / "seed"
SCENARIOS = ("first import", "re-import unchanged", "re-import 20% changed")
CHANGED_EVERY = 5  # 20 %


def install_seed() -> None:
    """The harness's npm dependencies, from its lockfile, unless installed already."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise RuntimeError("--peer seed needs node and npm on PATH")
    installed = SEED_DIR / "node_modules" / ".package-lock.json"
    lock = SEED_DIR / "package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    subprocess.run(
        ["npm", "install", "--prefix", str(SEED_DIR), "--no-audit", "--no-fund"],
        check=True,
        stdout=subprocess.DEVNULL,
    )


@dataclass
class SideRun:
    """One import by one side: what it cost."""

    items: int  # items in the feeds (the failed ones included)
    seconds: float
    trigger_cpu: float  # producer / CLI
    fetch_cpu: float  # 0 for the seed: its producer fetches
    import_cpu: float  # seed worker / importer
    store_cpu: float
    redis_cpu: float
    redis_commands: int  # server-side
    store_round_trips: int

    def metrics(self) -> dict[str, float]:
        per_1000 = 1000 / self.items
        producer = self.trigger_cpu + self.fetch_cpu
        return {
            "wall_s": self.seconds,
            "items_per_s": self.items / self.seconds,
            "own_cpu_s_per_1000_items": (producer + self.import_cpu) * per_1000,
            "producer_cpu_s_per_1000_items": producer * per_1000,
            "trigger_cpu_s_per_1000_items": self.trigger_cpu * per_1000,
            "worker_cpu_s_per_1000_items": self.import_cpu * per_1000,
            "store_cpu_s_per_1000_items": self.store_cpu * per_1000,
            "store_round_trips_per_item": self.store_round_trips / self.items,
            "redis_cpu_s_per_1000_items": self.redis_cpu * per_1000,
            "redis_commands_per_item": self.redis_commands / self.items,
        }


def _wait_child(process: subprocess.Popen[Any]) -> float:
    """Wait for a child and return its CPU-seconds (its own rusage, children included)."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


class Meter:
    """CPU of the store and redis-server, and the server's command count, around one run."""

    def __init__(self, stack_: Stack) -> None:
        self.redis = redis.Redis.from_url(stack_.redis_url)
        self.redis_process = psutil.Process(stack_.redis_pid)
        self.store_process = psutil.Process(stack_.store_pid) if stack_.store_pid else None

    def read(self) -> tuple[float, float, int]:
        store = cpu_seconds([self.store_process]) if self.store_process else 0.0
        commands = int(self.redis.info("stats")["total_commands_processed"])
        return store, cpu_seconds([self.redis_process]), commands


class SeedWorker:
    """The seed's worker process; a thread follows its progress lines."""

    def __init__(self, stack_: Stack, limit: int) -> None:
        tag = uuid.uuid4().hex[:8]
        self.queue = f"seed{tag}"
        self.redis_url = stack_.redis_url
        self.process = subprocess.Popen(
            ["node", str(SEED_DIR / "worker.js"), "--redis", stack_.redis_url, "--queue", self.queue,
             "--mongodb", stack_.mongodb_url, "--db", f"seed_{tag}", "--limit", str(limit)],
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        self.counts = {"written": 0, "commands": 0}
        self.changed = threading.Condition()
        ready = json.loads(self._line())
        if not ready.get("ready"):
            raise RuntimeError(f"the seed worker did not start: {ready}")
        threading.Thread(target=self._follow, daemon=True, name="seed-worker").start()

    def _line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the seed worker exited")
        return line

    def _follow(self) -> None:
        stdout: IO[str] | None = self.process.stdout
        assert stdout is not None
        for line in stdout:
            with self.changed:
                self.counts = json.loads(line)
                self.changed.notify_all()

    def wait_written(self, target: int, timeout_s: float) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: self.counts["written"] >= target, timeout_s):
                raise RuntimeError(f"the seed worker wrote {self.counts['written']} of {target} items")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def seed_run(worker: SeedWorker, meter: Meter, feeds: dict[str, str], items: int) -> SideRun:
    worker_process = psutil.Process(worker.process.pid)
    before_worker = cpu_seconds([worker_process])
    before_store, before_redis, before_commands = meter.read()
    with worker.changed:
        before = dict(worker.counts)
    started = time.perf_counter()
    producer = subprocess.Popen(
        ["node", str(SEED_DIR / "producer.js"), "--redis", worker.redis_url, "--queue", worker.queue,
         *[arg for source, url in feeds.items() for arg in ("--feed", f"{source}={url}")]],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert producer.stdout is not None
    produced = producer.stdout.read()
    producer_cpu = _wait_child(producer)
    if producer.returncode != 0:
        raise RuntimeError("the seed producer failed")
    enqueued = int(json.loads(produced)["enqueued"])
    worker.wait_written(before["written"] + enqueued, timeout_s=1800)
    seconds = time.perf_counter() - started
    after_worker = cpu_seconds([worker_process])
    after_store, after_redis, _ = meter.read()
    time.sleep(FLUSH_S)  # the last acknowledgements
    _, _, settled_commands = meter.read()
    with worker.changed:
        after = dict(worker.counts)
    return SideRun(
        items=items,
        seconds=seconds,
        trigger_cpu=producer_cpu,
        fetch_cpu=0.0,
        import_cpu=after_worker - before_worker,
        store_cpu=after_store - before_store,
        redis_cpu=after_redis - before_redis,
        redis_commands=settled_commands - before_commands - 2,  # less our INFO calls
        store_round_trips=after["commands"] - before["commands"],
    )


def ours_run(bench: Bench, meter: Meter, feeds: dict[str, str], items: int) -> SideRun:
    workers = {service: bench.workers.processes(service) for service in ("fetcher", "importer")}
    pids = {process.pid for group in workers.values() for process in group}
    before = {service: cpu_seconds(group) for service, group in workers.items()}
    before_store, before_redis, before_commands = meter.read()
    store_before, _ = probe_counts(bench.stack.probe_dir, pids)
    env = {**os.environ, **bench.settings.as_env(), "BENCH_PROBE_DIR": str(bench.stack.probe_dir)}
    started = time.perf_counter()
    command = subprocess.Popen(
        [sys.executable, "-m", "bench.cli_probe", "import", "--wait", "--json",
         *[arg for url in feeds.values() for arg in ("--feed", url)]],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert command.stdout is not None
    output = command.stdout.read()
    trigger_cpu = _wait_child(command)
    seconds = time.perf_counter() - started
    after = {service: cpu_seconds(group) for service, group in workers.items()}
    after_store, after_redis, _ = meter.read()
    if command.returncode != 0:
        raise RuntimeError(f"job-importer import --wait failed: {output[-2000:]}")
    time.sleep(FLUSH_S)  # acks and releases after the last write
    bench._wait_for_probes(pids, time.time())
    _, _, settled_commands = meter.read()
    store_after, _ = probe_counts(bench.stack.probe_dir, pids | {command.pid})
    totals = json.loads(output)["totals"]
    if totals["fetched"] != items:
        raise RuntimeError(f"the import fetched {totals['fetched']} of {items} items: {totals}")
    return SideRun(
        items=items,
        seconds=seconds,
        trigger_cpu=trigger_cpu,
        fetch_cpu=after["fetcher"] - before["fetcher"],
        import_cpu=after["importer"] - before["importer"],
        store_cpu=after_store - before_store,
        redis_cpu=after_redis - before_redis,
        redis_commands=settled_commands - before_commands - 2,
        store_round_trips=sum((store_after - store_before).values()),
    )


def _feeds_for(
    server_route: Callable[[str, bytes], str], batches: dict[str, list[Any]], scenario: str
) -> dict[str, str]:
    """Serve the scenario's version of each feed; source -> URL."""
    urls = {}
    for name, jobs in batches.items():
        if scenario == "re-import 20% changed":
            body = bench_feeds.feed(jobs, changed=True, changed_every=CHANGED_EVERY)
        else:
            body = bench_feeds.feed(jobs)
        urls[name] = server_route(name, body)
    return urls


def measure(
    *,
    mongodb_url: str | None,
    feeds: int,
    items: int,
    description_bytes: int,
    runs: int,
    limited_runs: int,
    threads: int,
    batch_size: int | None,
    text: str,
) -> dict[str, Any]:
    """``runs`` interleaved repetitions of the three scenarios, seed limiter off vs ours; then
    ``limited_runs`` of the seed with its limiter on (100 jobs/s)."""
    install_seed()
    samples: dict[str, dict[str, list[SideRun]]] = {
        side: {name: [] for name in SCENARIOS} for side in ("seed, limiter on", "seed, limiter off", "ours")
    }
    with stack(mongodb_url) as bench_stack:
        meter = Meter(bench_stack)

        def route(name: str, body: bytes) -> str:
            bench_stack.server.routes[f"/{name}.xml"] = body
            return bench_stack.server.url(f"/{name}.xml")

        def batches(repetition: int) -> dict[str, list[Any]]:
            return {
                f"p{repetition}f{feed}": bench_feeds.jobs(
                    items,
                    description_bytes,
                    start=(repetition * 100 + feed) * 1_000_000,
                    seed=feed,
                    text=text,
                )
                for feed in range(feeds)
            }

        total = feeds * items
        with Bench(bench_stack, 1, threads, batch_size) as ours:
            seed = SeedWorker(bench_stack, limit=0)
            try:
                warmup = {
                    "warmup": bench_feeds.jobs(min(items, 200), description_bytes, start=9_000_000, seed=99)
                }
                urls = _feeds_for(route, warmup, "first import")
                seed_run(seed, meter, urls, len(warmup["warmup"]))
                ours_run(ours, meter, urls, len(warmup["warmup"]))
                for repetition in range(runs):
                    current = batches(repetition)
                    for scenario in SCENARIOS:
                        urls = _feeds_for(route, current, scenario)
                        order = ("seed", "ours") if repetition % 2 == 0 else ("ours", "seed")
                        for side in order:
                            if side == "seed":
                                samples["seed, limiter off"][scenario].append(
                                    seed_run(seed, meter, urls, total)
                                )
                            else:
                                samples["ours"][scenario].append(ours_run(ours, meter, urls, total))
            finally:
                seed.stop()
        if limited_runs:
            seed = SeedWorker(bench_stack, limit=100)
            try:
                for repetition in range(runs, runs + limited_runs):
                    current = batches(repetition)
                    for scenario in SCENARIOS:
                        urls = _feeds_for(route, current, scenario)
                        samples["seed, limiter on"][scenario].append(seed_run(seed, meter, urls, total))
            finally:
                seed.stop()
        store = "external MongoDB" if bench_stack.store_pid is None else "mongoeco stand-in (bench.standin)"
    return {
        "store": store,
        "sides": {
            side: {name: describe(runs_) for name, runs_ in scenarios.items() if runs_}
            for side, scenarios in samples.items()
        },
    }


def describe(runs: list[SideRun]) -> dict[str, Any]:
    metrics = [run.metrics() for run in runs]
    return {"items": runs[-1].items, **{name: summary([m[name] for m in metrics]) for name in metrics[0]}}
