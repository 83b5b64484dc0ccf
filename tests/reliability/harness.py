"""What the fault-injection scenarios share: a known set of feeds in versions, the exact state the
store must end in, the checks that prove nothing was lost or duplicated, and the figures they report.

A :class:`Catalog` is a few Jobicy-shaped feeds whose versions only add listings (at the top, as
real boards do) and edit some; a few entries of every version are invalid on purpose. The same guid
numbers are used in every feed, so guids collide across feeds and only the source keeps them apart.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import redis

from devstack.feedserver import Reply, Request
from devstack.samplefeeds import SampleJob, edited, jobicy_feed, sample_jobs
from job_importer import history
from job_importer.contract import MAX_TEXT_CHARS, job_id
from job_importer.db import Store
from job_importer.keys import Keys
from job_importer.queues import QueueStats, queue_stats
from job_importer.settings import FeedConfig, Settings

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
FIGURES_ENV = "RELIABILITY_FIGURES_DIR"

#: Why each kind of broken entry fails (the start of the reason recorded for it).
INVALID_REASONS = {
    "no-identity": "entry has no guid, link or id to identify it",
    "no-title": "entry has no title",
    "too-long": f"description: String should have at most {MAX_TEXT_CHARS} characters",
}
HOST = "jobicy.example"


@cache
def _base_jobs(count: int, seed: int, description_bytes: int) -> tuple[SampleJob, ...]:
    return tuple(sample_jobs(count, start=1000, seed=seed, description_bytes=description_bytes))


@cache
def _added_jobs(count: int, start: int, seed: int, description_bytes: int) -> tuple[SampleJob, ...]:
    return tuple(sample_jobs(count, start=start, seed=seed, description_bytes=description_bytes))


def _broken(job: SampleJob, kind: str) -> SampleJob:
    if kind == "no-identity":
        return replace(job, guid="", link="")
    if kind == "no-title":
        return replace(job, title="")
    return replace(job, description="x" * (MAX_TEXT_CHARS + 1))


@dataclass(frozen=True)
class Listing:
    """What the store must hold for one valid entry."""

    title: str
    description: str


@dataclass(frozen=True)
class Catalog:
    feeds: int = 4
    items: int = 300  # entries of version 0 of each feed
    added_per_version: int = 30
    edited_per_version: int = 25
    seed: int = 1
    description_bytes: int = 300

    def source(self, feed: int) -> str:
        return f"board-{feed}"

    def path(self, feed: int) -> str:
        return f"/board-{feed}.xml"

    def invalid(self) -> dict[int, str]:
        """Base positions of the entries that are broken in every version, and how."""
        return {3: "no-identity", self.items // 2: "no-title", self.items - 5: "too-long"}

    def _edited(self, version: int) -> set[int]:
        return {(version * 37 + k * 11) % self.items for k in range(self.edited_per_version)}

    def _last_edit(self, index: int, version: int) -> int | None:
        return next((v for v in range(version, 0, -1) if index in self._edited(v)), None)

    def entries(self, feed: int, version: int) -> list[SampleJob]:
        """The feed's entries at ``version``, newest first."""
        seed = self.seed * 100 + feed
        invalid = self.invalid()
        jobs = []
        for index, job in enumerate(_base_jobs(self.items, seed, self.description_bytes)):
            last = self._last_edit(index, version)
            if index in invalid:
                job = _broken(job, invalid[index])
            elif last is not None:
                job = edited(job, f"(v{last})")
            jobs.append(job)
        added = _added_jobs(self.added_per_version * version, 1000 + self.items, seed, self.description_bytes)
        return [*reversed(added), *jobs]

    def body(self, feed: int, version: int) -> bytes:
        return jobicy_feed(self.entries(feed, version), title=self.source(feed), host=HOST)

    def routes(self, version: int) -> dict[str, bytes]:
        return {self.path(feed): self.body(feed, version) for feed in range(self.feeds)}

    def configs(self, base_url: str) -> list[FeedConfig]:
        return [
            FeedConfig(url=f"{base_url.rstrip('/')}{self.path(feed)}", source=self.source(feed))
            for feed in range(self.feeds)
        ]

    def expected(self, feed: int, version: int) -> dict[str, Listing]:
        """id -> content of every valid listing of the feed once ``version`` is imported."""
        listings = {}
        for job in self.entries(feed, version):
            if job.guid == "" or not job.title or len(job.description) > MAX_TEXT_CHARS:
                continue
            guid = f"https://{HOST}/?post_type=job_listing&p={job.number}"
            listings[job_id(self.source(feed), guid)] = Listing(job.title, job.description.strip())
        return listings

    def expected_failures(self, feed: int, version: int) -> dict[str, str]:
        """failed_items key -> start of its reason, for one run that fetched ``version``."""
        invalid = self.invalid()
        offset = self.added_per_version * version  # added entries come first
        return {f"entry-{offset + index}": INVALID_REASONS[kind] for index, kind in invalid.items()}

    def expected_counts(self, feed: int, version: int, before: int | None) -> dict[str, int]:
        """The run's counts when it fetched ``version`` over a store holding ``before`` (None: empty)."""
        now = self.expected(feed, version)
        prior = self.expected(feed, before) if before is not None else {}
        new = sum(1 for key in now if key not in prior)
        updated = sum(1 for key, value in now.items() if key in prior and prior[key] != value)
        return {
            "fetched": len(self.entries(feed, version)),
            "new": new,
            "updated": updated,
            "unchanged": len(now) - new - updated,
            "duplicates": 0,
            "failed": len(self.invalid()),
        }


class ChangingFeed:
    """A route whose feed changes on every fetch: the n-th download gets version n (so a second
    fetch of one schedule slot shows up as a skipped version in the counts)."""

    def __init__(self, catalog: Catalog, feed: int) -> None:
        self.catalog = catalog
        self.feed = feed
        self.served = 0
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        with self._lock:
            version, self.served = self.served, self.served + 1
        return Reply(body=self.catalog.body(self.feed, version))


@dataclass(frozen=True)
class RunCheck:
    """One run and what it must have found: ``version`` of ``feed`` over a store at ``before``.

    ``version`` None: not predicted (runs of one feed overlapped); the run must still complete,
    add up and record every invalid entry.
    """

    run_id: str
    feed: int
    version: int | None
    before: int | None = None


@dataclass
class Outcome:
    """The verdict on the final state: what was lost, what was duplicated, and every problem found."""

    items: int = 0
    runs: int = 0
    lost: int = 0
    duplicated: int = 0
    problems: list[str] = field(default_factory=list)

    def problem(self, text: str) -> None:
        self.problems.append(text)


def check_final_state(
    settings: Settings,
    store: Store,
    client: redis.Redis,
    catalog: Catalog,
    runs: list[RunCheck],
    final_versions: dict[int, int],
    *,
    expected_dead: int = 0,
) -> Outcome:
    """Compare everything against the catalog: runs, failed items, documents, queues."""
    outcome = Outcome(runs=len(runs))
    _check_runs(store, catalog, runs, outcome)
    _check_documents(store, catalog, runs, final_versions, outcome)
    _check_nothing_stuck(settings, store, client, expected_dead, outcome)
    return outcome


def _check_runs(store: Store, catalog: Catalog, runs: list[RunCheck], outcome: Outcome) -> None:
    for check in runs:
        run = history.get_run(store, check.run_id) or {}
        outcome.items += run.get("fetched", 0)
        if run.get("status") != "completed":
            outcome.problem(f"run {check.run_id} is {run.get('status')}: {run.get('error')}")
            continue
        counts = ("fetched", "new", "updated", "unchanged", "duplicates", "failed")
        found = {name: run.get(name) for name in counts}
        outcomes = sum(run[name] for name in counts[1:])
        if run["fetched"] != outcomes or run["imported"] != run["new"] + run["updated"]:
            outcome.problem(f"run {check.run_id} does not add up: {found}")
        recorded = {
            doc["key"]: doc["reason"]
            for doc in store.failed_items.find({"run_id": check.run_id}, {"key": 1, "reason": 1})
        }
        if check.version is None:
            kinds = sorted(
                next((kind for kind, start in INVALID_REASONS.items() if reason.startswith(start)), reason)
                for reason in recorded.values()
            )
            if kinds != sorted(catalog.invalid().values()):
                outcome.lost += max(0, len(catalog.invalid()) - len(recorded))
                outcome.problem(f"run {check.run_id}: failed items {recorded}")
            continue
        expected = catalog.expected_counts(check.feed, check.version, check.before)
        if found != expected:
            outcome.problem(f"run {check.run_id} (feed {check.feed} v{check.version}): {found} != {expected}")
        for key, reason in catalog.expected_failures(check.feed, check.version).items():
            if not recorded.get(key, "").startswith(reason):
                outcome.lost += 1
                outcome.problem(f"run {check.run_id}: failed item {key} is {recorded.get(key)!r}")
        for key in recorded.keys() - catalog.expected_failures(check.feed, check.version).keys():
            outcome.problem(f"run {check.run_id}: unexpected failed item {key}: {recorded[key]}")


def _check_documents(
    store: Store, catalog: Catalog, runs: list[RunCheck], final_versions: dict[int, int], outcome: Outcome
) -> None:
    expected: dict[str, Listing] = {}
    for feed, version in final_versions.items():
        expected.update(catalog.expected(feed, version))
    sources = [catalog.source(feed) for feed in range(catalog.feeds)]
    stored = {
        doc["_id"]: Listing(doc.get("title", ""), doc.get("description") or "")
        for doc in store.jobs.find({"source": {"$in": sources}}, {"title": 1, "description": 1})
    }
    missing = expected.keys() - stored.keys()
    stale = [key for key in expected.keys() & stored.keys() if stored[key] != expected[key]]
    extra = stored.keys() - expected.keys()
    outcome.lost += len(missing) + len(stale)
    outcome.duplicated += len(extra)
    if missing:
        outcome.problem(f"{len(missing)} listing(s) missing, e.g. {sorted(missing)[:3]}")
    if stale:
        outcome.problem(f"{len(stale)} listing(s) without their latest content, e.g. {sorted(stale)[:3]}")
    if extra:
        outcome.problem(f"{len(extra)} unexpected document(s), e.g. {sorted(extra)[:3]}")
    # Every listing is inserted exactly once over all runs: more "new" than documents is a double count.
    counted_new = sum((history.get_run(store, check.run_id) or {}).get("new", 0) for check in runs)
    if counted_new > len(expected):
        outcome.duplicated += counted_new - len(expected)
    if counted_new != len(expected):
        outcome.problem(f"runs counted {counted_new} new listings; the store holds {len(expected)}")


def _check_nothing_stuck(
    settings: Settings, store: Store, client: redis.Redis, expected_dead: int, outcome: Outcome
) -> None:
    stuck = store.runs.count_documents({"status": {"$nin": list(history.TERMINAL)}})
    if stuck:
        outcome.problem(f"{stuck} run(s) never finished")
    stats = _settled_queues(settings, client)
    for stat in stats:
        if stat.ready or stat.delayed or stat.in_progress:
            outcome.problem(f"messages left in queue {stat.queue}: {stat.as_dict()}")
    dead = sum(stat.dead for stat in stats)
    if dead != expected_dead:
        outcome.problem(f"{dead} dead letter(s); expected {expected_dead}")
    waiting = int(client.hlen(Keys(settings.queue_namespace).pending(settings.import_queue)))
    if waiting:
        outcome.problem(f"{waiting} item(s) still marked as waiting in the import queue")


def _settled_queues(settings: Settings, client: redis.Redis, timeout_s: float = 60) -> list[QueueStats]:
    """The queues once nothing is ready, delayed or in progress, or as they are at the deadline.

    Finished runs do not mean settled queues: a run completes before its last chunk's message is
    acknowledged, and a copy of a chunk held by a killed worker comes back (to be recognised as
    counted and acknowledged) only once that worker's heartbeat has timed out."""
    deadline = time.monotonic() + timeout_s
    while True:
        stats = queue_stats(client, settings)
        busy = any(stat.ready or stat.delayed or stat.in_progress for stat in stats)
        if not busy or time.monotonic() > deadline:
            return stats
        time.sleep(0.1)


@dataclass
class Figures:
    """One row of docs/reliability.md."""

    scenario: str
    injected: str
    items: int  # entries fetched, over all runs
    runs: int
    lost: int
    duplicated: int
    recovery_s: float | None  # from the end of the fault to every run finished
    wall_s: float
    problems: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    command: str = "pytest tests/reliability"  # what reproduces the row

    @classmethod
    def of(
        cls,
        scenario: str,
        injected: str,
        outcome: Outcome,
        *,
        started: float,
        recovered_from: float | None,
        finished: float,
        **details: Any,
    ) -> Figures:
        return cls(
            scenario=scenario,
            injected=injected,
            items=outcome.items,
            runs=outcome.runs,
            lost=outcome.lost,
            duplicated=outcome.duplicated,
            recovery_s=None if recovered_from is None else round(finished - recovered_from, 2),
            wall_s=round(finished - started, 2),
            problems=outcome.problems,
            details=details,
        )


def figures_dir() -> Path:
    return Path(os.environ.get(FIGURES_ENV) or ARTIFACTS / "reliability")


def record(figures: Figures) -> Path:
    """Write one scenario's figures where the report collects them; returns the file."""
    directory = figures_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (re.sub(r"[^a-z0-9]+", "-", figures.scenario.lower()).strip("-") + ".json")
    path.write_text(json.dumps({**asdict(figures), "recorded_at": time.time()}, indent=2))
    return path


def assert_clean(figures: Figures) -> None:
    """Fail the test with every problem listed; figures are recorded before this is called."""
    assert (figures.lost, figures.duplicated, figures.problems) == (0, 0, []), figures.problems
