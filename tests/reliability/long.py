"""The long reliability runs, outside CI. Both record their figures for docs/reliability.md.

    .venv/bin/python -m tests.reliability.long soak --minutes 60    # scheduled imports, periodic faults
    .venv/bin/python -m tests.reliability.long big-feed --items 100000

They start what they need like the tests do: a private redis-server with AOF (restartable), MongoDB
at MONGODB_URL or the embedded stand-in behind a cuttable link, a loopback feed server, real worker
and scheduler processes.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import redis
from dramatiq.brokers.redis import RedisBroker
from pymongo.uri_parser import parse_uri

from cli.workers import Service
from devstack.feedserver import FeedServer
from devstack.stack import start_embedded_mongo
from job_importer import history
from job_importer.accounting import reconcile_dead_letters
from job_importer.broker import build_broker
from job_importer.db import Store, open_store
from job_importer.deadletters import DeadLetters
from job_importer.settings import Settings
from job_importer.trigger import start_import
from tests.conftest import Workers, free_port, wait_for_runs
from tests.reliability.faults import CuttableLink, RestartableRedis, through
from tests.reliability.harness import (
    Catalog,
    ChangingFeed,
    Figures,
    Outcome,
    RunCheck,
    check_final_state,
    record,
)


@dataclass
class Stack:
    settings: Settings  # what the test side uses (MongoDB directly)
    worker_settings: Settings  # what the services use (MongoDB through the link)
    store: Store
    broker: RedisBroker
    client: redis.Redis
    redis_server: RestartableRedis
    mongo_link: CuttableLink
    feeds: FeedServer
    workers: Workers
    schedulers: list[subprocess.Popen[bytes]] = field(default_factory=list)


@contextmanager
def stack(**overrides: object) -> Iterator[Stack]:
    redis_server = RestartableRedis().start()
    mongo_process = None
    mongodb_url = os.environ.get("MONGODB_URL")
    if not mongodb_url:
        mongo_process, port = start_embedded_mongo(free_port())
        mongodb_url = f"mongodb://127.0.0.1:{port}/?directConnection=true"
    host, port = parse_uri(mongodb_url)["nodelist"][0]
    link = CuttableLink(host, port).start()
    tag = uuid.uuid4().hex[:10]
    chosen: dict[str, object] = dict(
        redis_url=redis_server.url,
        mongodb_url=mongodb_url,
        mongodb_db=f"long_{tag}",
        # Generous: the stand-in serves one request at a time, and a big bulk write can hold it for seconds.
        mongodb_timeout_ms=30_000,
        queue_namespace=f"l{tag}",
        feeds=[],
        worker_concurrency=4,
        heartbeat_timeout_ms=5000,
        maintenance_chance=100_000,
        retry_base_ms=200,
        retry_max_ms=5000,
        import_max_retries=10,
        fetch_max_retries=10,
        worker_shutdown_timeout_ms=20_000,
        metrics_enabled=False,
    )
    chosen.update(overrides)
    settings = Settings(**chosen)  # type: ignore[arg-type]
    store = open_store(settings)
    worker_settings = settings.model_copy(update={"mongodb_url": through(link, mongodb_url)})
    feeds = FeedServer().start()
    built = Stack(
        settings=settings,
        worker_settings=worker_settings,
        store=store,
        broker=build_broker(settings),
        client=redis.Redis.from_url(settings.redis_url),
        redis_server=redis_server,
        mongo_link=link,
        feeds=feeds,
        workers=Workers(worker_settings),
    )
    try:
        yield built
    finally:
        for scheduler in built.schedulers:
            with suppress(ProcessLookupError):
                scheduler.kill()
        built.workers.stop_all()
        feeds.stop()
        link.close()
        store.db.client.drop_database(settings.mongodb_db)
        redis_server.stop()
        if mongo_process is not None:
            mongo_process.terminate()
            mongo_process.wait(timeout=10)


def say(message: str) -> None:
    print(f"» {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


# The soak ----------------------------------------------------------------------------------------


class FaultInjector:
    """Injects one fault at a time into the running system, and keeps the services up like a
    supervisor (Kubernetes) would: a process that died on its own is restarted and counted."""

    def __init__(
        self, stack: Stack, rng: random.Random, scheduler_argv: list[str], env: dict[str, str]
    ) -> None:
        self.stack = stack
        self.rng = rng
        self.scheduler_argv = scheduler_argv
        self.env = env
        self.importers = [stack.workers.start("importer"), stack.workers.start("importer")]
        self.fetchers = [stack.workers.start("fetcher")]
        stack.schedulers.extend(self._scheduler() for _ in range(2))
        self.faults: list[dict[str, object]] = []
        self.unplanned_restarts: Counter[str] = Counter()
        self.last_fault_end = time.monotonic()

    def _scheduler(self) -> subprocess.Popen[bytes]:
        log = open(Path(tempfile.gettempdir()) / f"soak-scheduler-{uuid.uuid4().hex[:6]}.log", "wb")  # noqa: SIM115
        return subprocess.Popen(self.scheduler_argv, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def kinds(self) -> dict[str, Callable[[], float]]:
        return {
            "kill -9 importer": lambda: self._replace(self.importers, kill=True),
            "kill -9 fetcher": lambda: self._replace(self.fetchers, kill=True),
            "SIGTERM importer": lambda: self._replace(self.importers, kill=False),
            "kill -9 scheduler": self._kill_scheduler,
            "MongoDB outage": self._mongo_outage,
            "Redis restart": self._redis_restart,
        }

    def inject(self) -> None:
        kind, action = self.rng.choice(list(self.kinds().items()))
        started = time.monotonic()
        say(f"fault: {kind}")
        duration = action()
        self.last_fault_end = time.monotonic()
        self.faults.append({"kind": kind, "at_s": round(started, 1), "duration_s": round(duration, 1)})

    def _replace(self, group: list[subprocess.Popen[bytes]], *, kill: bool) -> float:
        index = self.rng.randrange(len(group))
        service: Service = "importer" if group is self.importers else "fetcher"
        if kill:
            self.stack.workers.kill(group[index])
        else:
            self.stack.workers.terminate(group[index])
        group[index] = self.stack.workers.start(service)
        return 0.0

    def _kill_scheduler(self) -> float:
        index = self.rng.randrange(len(self.stack.schedulers))
        self.stack.schedulers[index].kill()
        self.stack.schedulers[index].wait()
        self.stack.schedulers[index] = self._scheduler()
        return 0.0

    def _mongo_outage(self) -> float:
        seconds = self.rng.uniform(3, 12)
        self.stack.mongo_link.cut()
        time.sleep(seconds)  # the outage itself
        self.stack.mongo_link.restore()
        return seconds

    def _redis_restart(self) -> float:
        self.stack.redis_server.stop()
        time.sleep(3)  # the outage itself
        self.stack.redis_server.start()
        return 3.0

    def keep_up(self) -> None:
        """Restart whatever exited on its own, as Kubernetes would (and count it: none should)."""
        groups: list[tuple[list[subprocess.Popen[bytes]], Service]] = [
            (self.importers, "importer"),
            (self.fetchers, "fetcher"),
        ]
        for group, service in groups:
            for index, process in enumerate(group):
                if process.poll() is not None:
                    self.unplanned_restarts[service] += 1
                    group[index] = self.stack.workers.start(service)
        for index, process in enumerate(self.stack.schedulers):
            if process.poll() is not None:
                self.unplanned_restarts["scheduler"] += 1
                self.stack.schedulers[index] = self._scheduler()


def soak(minutes: float, fault_every_s: float, slot_s: int, seed: int) -> Figures:
    catalog = Catalog(feeds=4, items=300, added_per_version=20, edited_per_version=15)
    rng = random.Random(seed)
    # The shipped heartbeat timeout and maintenance: recovery from a kill as in production.
    shipped = {
        name: Settings.model_fields[name].default for name in ("heartbeat_timeout_ms", "maintenance_chance")
    }
    with stack(**shipped) as system:
        routes = {feed: ChangingFeed(catalog, feed) for feed in range(catalog.feeds)}
        for feed, route in routes.items():
            system.feeds.routes[catalog.path(feed)] = route
        feeds_file = Path(tempfile.mkdtemp()) / "feeds.toml"
        configs = catalog.configs(system.feeds.url("/"))
        feeds_file.write_text(
            "".join(f'[[feeds]]\nurl = "{c.url}"\nsource = "{c.source}"\n\n' for c in configs)
        )
        config = system.worker_settings.model_copy(
            update={"feeds_file": feeds_file, "schedule_cron": f"* * * * * */{slot_s}"}
        )
        env = {**os.environ, **config.as_env()}
        injector = FaultInjector(system, rng, [sys.executable, "-m", "cli", "schedule"], env)
        system.workers.wait_ready("fetcher")
        system.workers.wait_ready("importer", 2)
        started = time.monotonic()
        end = started + minutes * 60
        next_fault = started + fault_every_s
        say(f"soak: {minutes:g} min, a fault every {fault_every_s:g} s, a slot every {slot_s} s")
        while time.monotonic() < end:
            if time.monotonic() >= next_fault:
                injector.inject()
                next_fault = time.monotonic() + fault_every_s
            injector.keep_up()
            time.sleep(1)
        for scheduler in system.schedulers:
            scheduler.send_signal(signal.SIGTERM)
            scheduler.wait(timeout=60)
        say("soak over: letting every run finish")
        settle(system)
        finished = time.monotonic()
        outcome = verify_soak(system, catalog, routes)
    counts = Counter(str(fault["kind"]) for fault in injector.faults)
    return Figures.of(
        "soak: scheduled imports with periodic faults",
        f"{minutes:g} min of imports every {slot_s} s by two schedulers; a fault every {fault_every_s:g} s: "
        + ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())),
        outcome,
        started=started,
        recovered_from=injector.last_fault_end,
        finished=finished,
        faults=injector.faults,
        unplanned_restarts=dict(injector.unplanned_restarts),
        minutes=minutes,
    )


def settle(system: Stack, timeout_s: float = 600) -> None:
    """Wait for every run to finish; dead letters (if any) are accounted and requeued, as an operator would."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        reconcile_dead_letters(system.settings, system.store, system.broker)
        for queue in (system.settings.fetch_queue, system.settings.import_queue):
            if DeadLetters.of(system.broker, queue).requeue(system.broker):
                say(f"requeued dead letters of {queue}")
        pending = system.store.runs.count_documents({"status": {"$nin": list(history.TERMINAL)}})
        if not pending:
            return
        time.sleep(2)
    raise TimeoutError("runs still unfinished after the soak")


def verify_soak(system: Stack, catalog: Catalog, routes: dict[int, ChangingFeed]) -> Outcome:
    """Every listing of each feed's last version present once with its content; every run complete
    and adding up. (Per-run outcomes are not predicted: runs of one feed may overlap after a fault.)"""
    checks: list[RunCheck] = []
    runs = list(system.store.runs.find({}, {"feed_url": 1}).sort("created_at", 1))
    for feed, config in enumerate(catalog.configs(system.feeds.url("/"))):
        mine = [run["_id"] for run in runs if run["feed_url"] == config.url]
        checks += [RunCheck(run_id, feed, None) for run_id in mine]
    final = {feed: route.served - 1 for feed, route in routes.items()}
    return check_final_state(system.settings, system.store, system.client, catalog, checks, final)


# A very large feed -------------------------------------------------------------------------------


def big_feed(items: int) -> Figures:
    catalog = Catalog(
        feeds=1, items=items, added_per_version=0, edited_per_version=items // 100, description_bytes=100
    )
    body_mb = len(catalog.body(0, 0)) / 1e6
    with stack(fetch_max_bytes=int(body_mb * 1.5e6) + 1, worker_batch_size=500) as system:
        system.workers.start("fetcher")
        system.workers.start("importer")
        system.workers.start("importer")
        system.workers.wait_ready("fetcher")
        system.workers.wait_ready("importer", 2)
        feed = catalog.configs(system.feeds.url("/"))
        peak = PeakRss(
            [process.pid for processes in system.workers.processes.values() for process in processes]
        )
        started = time.monotonic()
        checks = []
        durations = []
        for version in (0, 1):
            system.feeds.routes.update(catalog.routes(version))
            say(f"importing version {version}: {items:,} entries, {body_mb:.0f} MB")
            begun = time.monotonic()
            [run_id] = start_import(system.settings, system.store, system.broker, feed, "cli").run_ids
            wait_for_runs(system.store, [run_id], timeout=3600)
            durations.append(round(time.monotonic() - begun, 1))
            checks.append(RunCheck(run_id, 0, version, version - 1 if version else None))
        finished = time.monotonic()
        peak.stop()
        outcome = check_final_state(system.settings, system.store, system.client, catalog, checks, {0: 1})
    return Figures.of(
        f"feed of {items:,} entries",
        f"one {body_mb:.0f} MB feed of {items:,} entries imported, then again with {items // 100:,} edited",
        outcome,
        started=started,
        recovered_from=None,
        finished=finished,
        run_seconds=durations,
        peak_rss_mb=peak.peaks(),
    )


class PeakRss:
    """Samples the resident memory of process trees (a worker group: its main and forked processes)."""

    def __init__(self, pids: list[int]) -> None:
        self.roots = [psutil.Process(pid) for pid in pids]
        self._peaks: Counter[str] = Counter()
        self._stop = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            for root in self.roots:
                with suppress(psutil.Error):
                    rss = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
                    self._peaks[f"pid {root.pid}"] = max(self._peaks[f"pid {root.pid}"], rss)

    def stop(self) -> None:
        self._stop.set()

    def peaks(self) -> dict[str, float]:
        return {name: round(value / 1e6) for name, value in self._peaks.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    soak_args = commands.add_parser("soak", help="scheduled imports with periodic faults")
    soak_args.add_argument("--minutes", type=float, default=60)
    soak_args.add_argument("--fault-every", type=float, default=45, help="seconds between faults")
    soak_args.add_argument("--slot", type=int, default=20, help="schedule slot in seconds (divides 60)")
    soak_args.add_argument("--seed", type=int, default=1)
    big_args = commands.add_parser("big-feed", help="one very large feed, end to end")
    big_args.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    if args.command == "soak":
        figures = soak(args.minutes, args.fault_every, args.slot, args.seed)
    else:
        figures = big_feed(args.items)
    figures.command = "python -m tests.reliability.long " + " ".join(sys.argv[1:])
    path = record(figures)
    say(
        f"figures in {path}: lost {figures.lost}, duplicated {figures.duplicated}, problems {figures.problems}"
    )
    raise SystemExit(0 if (figures.lost, figures.duplicated, figures.problems) == (0, 0, []) else 1)


if __name__ == "__main__":
    main()
