"""Following a batch of runs until it ends: ``import --wait`` and ``demo``.

The wait rides out a slow or briefly unreachable MongoDB (and Redis): a poll that fails is only a
note on the progress display, and the wait goes on until its own deadline; the import itself
never depended on this process anyway. The display counts items, not runs (a run of 5,000 items
is one run from start to end): per feed, what the fetcher found and how many of those have an
outcome yet (written, unchanged, duplicate or failed); overall, the rate and an ETA.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pymongo
import redis
from pymongo.errors import PyMongoError
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Column

from cli import polling
from cli.console import err
from job_importer import history
from job_importer.db import Store

#: The longest one poll may take: a hung MongoDB must not hold the wait past its deadline.
POLL_TIMEOUT_S = 10.0
#: How often the wait checks that workers are alive.
LIVENESS_EVERY_S = 2.0

OUTCOMES = ("new", "updated", "unchanged", "duplicates", "failed")


class BatchTimeout(TimeoutError):
    def __init__(self, batch_id: str, finished: int, total: int, timeout_s: float, last_error: str) -> None:
        self.batch_id = batch_id
        note = f"; the last poll failed: {last_error}" if last_error else ""
        super().__init__(f"{finished} of {total} run(s) finished after {timeout_s:g} s{note}")


def done_items(run: dict[str, Any]) -> int:
    """Items of the run with an outcome so far."""
    return sum(int(run.get(name) or 0) for name in OUTCOMES)


@dataclass
class Rate:
    """Items per second since the first item had an outcome, and the time left at that rate."""

    started: float | None = None
    first: int = 0

    def update(self, done: int, now: float) -> float | None:
        if self.started is None:
            if done:
                self.started, self.first = now, done
            return None
        elapsed = now - self.started
        return (done - self.first) / elapsed if elapsed > 0.5 and done > self.first else None

    @staticmethod
    def eta(rate: float | None, remaining: int) -> float | None:
        return remaining / rate if rate else None


def describe_totals(fetched: int, done: int, rate: float | None, eta: float | None) -> str:
    parts = [f"fetched {fetched}", f"written or checked {done}"]
    if rate is not None:
        parts.append(f"{rate:,.0f} items/s")
    if eta is not None:
        parts.append(f"ETA {eta:,.0f} s")
    return " · ".join(parts)


@dataclass
class BatchWatch:
    """Polls one batch's runs and draws the progress display."""

    store: Store
    batch_id: str
    total: int
    timeout_s: float
    show_progress: bool
    workers_missing: Callable[[], Sequence[str]] = lambda: []
    last_error: str = ""
    _rate: Rate = field(default_factory=Rate)
    _warned: bool = False

    def wait(self) -> list[dict[str, Any]]:
        """Every run of the batch once all have finished; BatchTimeout at the deadline."""
        started = time.monotonic()
        deadline = started + self.timeout_s
        schedule = polling.Schedule()
        columns = [
            TextColumn("{task.description}", table_column=Column(ratio=3, overflow="fold")),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[note]}", table_column=Column(ratio=1, overflow="fold")),
        ]
        with Progress(*columns, console=err, disable=not self.show_progress, transient=True) as progress:
            overall = progress.add_task("all feeds", total=None, note="")
            per_feed: dict[str, TaskID] = {}
            next_liveness = time.monotonic()
            runs: list[dict[str, Any]] = []
            while True:
                remaining = deadline - time.monotonic()
                polled = self._poll(min(POLL_TIMEOUT_S, max(remaining, 0.1)))
                if polled is not None:
                    runs = polled
                    self._draw(progress, overall, per_feed, runs)
                else:
                    progress.update(overall, note=f"[yellow]{escape(self.last_error)} (retrying)[/yellow]")
                finished = sum(run["status"] in history.TERMINAL for run in runs)
                if polled is not None and finished >= self.total:
                    return sorted(runs, key=lambda run: run["created_at"])
                if time.monotonic() >= next_liveness:
                    self._check_workers()
                    next_liveness = time.monotonic() + LIVENESS_EVERY_S
                if time.monotonic() > deadline:
                    raise BatchTimeout(self.batch_id, finished, self.total, self.timeout_s, self.last_error)
                time.sleep(
                    schedule.next_delay(time.monotonic() - started, polling.progress(runs, self.total))
                )

    def _poll(self, timeout_s: float) -> list[dict[str, Any]] | None:
        try:
            with pymongo.timeout(timeout_s):
                runs = history.list_runs(self.store, batch_id=self.batch_id, limit=max(self.total, 1))
        except PyMongoError as exc:
            self.last_error = f"MongoDB: {str(exc).splitlines()[0][:200]}"
            return None
        self.last_error = ""
        return runs

    def _draw(
        self, progress: Progress, overall: TaskID, per_feed: dict[str, TaskID], runs: list[dict[str, Any]]
    ) -> None:
        for run in sorted(runs, key=lambda run: run["created_at"]):
            task = per_feed.get(run["_id"])
            if task is None:
                task = per_feed[run["_id"]] = progress.add_task(run["feed_url"], total=None, note="")
            known = run["status"] not in ("queued", "fetching")
            progress.update(
                task,
                total=int(run.get("fetched") or 0) if known else None,
                completed=done_items(run),
                note=run["status"],
            )
        fetched = sum(int(run.get("fetched") or 0) for run in runs)
        done = sum(done_items(run) for run in runs)
        rate = self._rate.update(done, time.monotonic())
        all_known = len(runs) >= self.total and all(
            run["status"] not in ("queued", "fetching") for run in runs
        )
        eta = Rate.eta(rate, fetched - done) if all_known else None
        progress.update(
            overall,
            total=fetched if all_known else None,
            completed=done,
            description=f"all feeds · {describe_totals(fetched, done, rate, eta)}",
            note="",
        )

    def _check_workers(self) -> None:
        try:
            missing = self.workers_missing()
        except redis.RedisError:
            return
        if missing and not self._warned:
            err.print(
                f"[yellow]warning: no {' or '.join(missing)} worker is alive; the runs wait until one runs"
                " (`job-importer worker SERVICE`, or `job-importer up`)[/yellow]"
            )
        self._warned = bool(missing)
