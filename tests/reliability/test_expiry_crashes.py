"""Workers dying while runs expire listings: kill -9 of importers at random moments and of the
fetcher mid-download, while catalog feeds drop listings, edit some, add some and take some back.

Expiry happens once per run, at its end, after every chunk is accounted for; a kill anywhere
(mid-chunk, between a chunk's write and its accounting, during the end of the run itself) must
leave every listing in exactly the state the last complete fetch says, and every run with exact
counts, ``expired`` and ``reactivated`` included.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass

from devstack.feedserver import FeedServer
from devstack.samplefeeds import SampleJob, edited, jobxml_feed, sample_jobs
from job_importer.settings import FeedConfig
from job_importer.trigger import start_import
from tests.conftest import Workers, wait_for, wait_for_runs
from tests.reliability.harness import Figures, Outcome, _check_nothing_stuck, assert_clean, record
from tests.reliability.test_worker_crashes import all_finished, drip_once, in_progress

FEEDS = 3
ITEMS = 300


@dataclass(frozen=True)
class Version:
    """What each catalog serves: the listings by number, and which of them are edited."""

    present: frozenset[int]
    edited: frozenset[int]


#: Version 1 drops 30 and edits 20 and adds 20; version 2 brings 15 of the dropped back (5 edited),
#: drops 25 more. Numbers are offsets into each feed's jobs.
VERSIONS = [
    Version(frozenset(range(ITEMS)), frozenset()),
    Version(frozenset(range(30, ITEMS + 20)), frozenset(range(100, 120))),
    Version(frozenset([*range(15), *range(55, ITEMS + 20)]), frozenset([*range(100, 120), *range(10, 15)])),
]
JOBS = [
    sample_jobs(ITEMS + 20, start=10_000 * (feed + 1), seed=40 + feed, description_bytes=300)
    for feed in range(FEEDS)
]


def guid(feed: int, offset: int) -> str:
    return f"JX-{JOBS[feed][offset].number}"


def body(feed: int, version: int) -> bytes:
    spec = VERSIONS[version]
    jobs: list[SampleJob] = [
        edited(JOBS[feed][n]) if n in spec.edited else JOBS[feed][n] for n in sorted(spec.present)
    ]
    return jobxml_feed(jobs)


def expected_counts(version: int) -> dict[str, int]:
    """What a run of ``version`` must count, from what the versions before it served."""
    if version == 0:
        return {"fetched": ITEMS, "new": ITEMS, "updated": 0, "unchanged": 0, "expired": 0, "reactivated": 0}
    now, before = VERSIONS[version], VERSIONS[version - 1]
    seen_before = set().union(*(v.present for v in VERSIONS[:version]))
    changed = {
        n for n in now.present & seen_before if (n in now.edited) != (n in _edited_last(n, version - 1))
    }
    return {
        "fetched": len(now.present),
        "new": len(now.present - seen_before),
        "updated": len(changed),
        "unchanged": len(now.present & seen_before) - len(changed),
        "expired": len(before.present - now.present),
        "reactivated": len((now.present & seen_before) - before.present),
    }


def _edited_last(offset: int, version: int) -> frozenset[int]:
    """The edits of the last version up to ``version`` that carried ``offset``."""
    for spec in reversed(VERSIONS[: version + 1]):
        if offset in spec.present:
            return spec.edited
    return frozenset()


def test_kill_minus_nine_during_expiring_runs(
    fast_settings, store, broker, redis_client, feed_server: FeedServer, workers: Workers
) -> None:
    settings = fast_settings.model_copy(update={"worker_rate_limit_max": 10})  # kills land mid-run
    workers.settings = settings
    feeds = [
        FeedConfig(url=feed_server.url(f"/catalog-{feed}.xml"), source=f"catalog-{feed}")
        for feed in range(FEEDS)
    ]
    rng = random.Random(20261202)
    fetcher = workers.start("fetcher")
    importers = [workers.start("importer"), workers.start("importer")]
    workers.wait_ready("fetcher")
    workers.wait_ready("importer", 2)
    started = time.monotonic()
    outcome = Outcome()
    kills: list[str] = []
    last_kill = started
    hits = 0  # importer kills that caught chunks in progress

    for version in range(len(VERSIONS)):
        for feed in range(FEEDS):
            feed_server.routes[f"/catalog-{feed}.xml"] = body(feed, version)
        began = threading.Event()
        if version == 1:  # the fetcher dies while the first catalog is still arriving
            feed_server.routes["/catalog-0.xml"] = drip_once(body(0, version), began)
        run_ids = start_import(settings, store, broker, feeds, "cli").run_ids
        if version == 1:
            assert began.wait(30)
            workers.kill(fetcher)
            kills.append("fetcher mid-download")
            fetcher = workers.start("fetcher")
        if version:
            for _ in range(4):  # up to four importer kills per version, each at a random moment of work
                time.sleep(rng.uniform(0.2, 1.0))
                if not wait_for(
                    lambda run_ids=run_ids: (
                        all_finished(store, run_ids)
                        or in_progress(redis_client, settings, settings.import_queue) > 0
                    ),
                    60,
                    what="chunks in progress",
                ) or all_finished(store, run_ids):
                    break
                victim = rng.randrange(len(importers))
                busy = in_progress(redis_client, settings, settings.import_queue)
                workers.kill(importers[victim])
                kills.append(f"importer {victim} in version {version}, {busy} chunk(s) in progress")
                hits += busy > 0
                last_kill = time.monotonic()
                importers[victim] = workers.start("importer")
        runs = wait_for_runs(store, run_ids, timeout=240)
        outcome.runs += len(runs)
        for feed, run in enumerate(runs):
            outcome.items += run["fetched"]
            got = {
                name: run[name]
                for name in ("fetched", "new", "updated", "unchanged", "expired", "reactivated")
            }
            want = expected_counts(version)
            if run["status"] != "completed" or got != want:
                outcome.problem(f"version {version}, feed {feed}: {run['status']} {got}, expected {want}")
            if (
                run["fetched"]
                != run["new"] + run["updated"] + run["unchanged"] + run["duplicates"] + run["failed"]
            ):
                outcome.problem(f"version {version}, feed {feed}: the counts do not add up: {run}")
        check_states(store, version, outcome)
    finished = time.monotonic()
    _check_nothing_stuck(settings, store, redis_client, 0, outcome)

    figures = Figures.of(
        "kill -9 during expiring runs",
        f"{len(kills)} kill -9 (importers at random moments, the fetcher mid-download) while three "
        "catalog feeds drop, edit, add and take back listings over three imports",
        outcome,
        started=started,
        recovered_from=last_kill,
        finished=finished,
        kills=kills,
    )
    record(figures)
    assert_clean(figures)
    assert hits >= 3, kills  # the kills did hit work in progress


def check_states(store, version: int, outcome: Outcome) -> None:
    """Every listing ever served: active when this version carries it, else expired as missing.
    A listing in the wrong state counts as lost (a live one hidden, or a dead one shown)."""
    ever = set().union(*(v.present for v in VERSIONS[: version + 1]))
    for feed in range(FEEDS):
        docs = {doc["guid"]: doc for doc in store.jobs.find({"source": f"catalog-{feed}"})}
        for offset in ever:
            doc = docs.get(guid(feed, offset))
            want = (
                ("active", None) if offset in VERSIONS[version].present else ("expired", "missing from feed")
            )
            got = None if doc is None else (doc.get("status"), doc.get("expired_reason"))
            if got != want:
                outcome.lost += 1
                outcome.problem(
                    f"version {version}, feed {feed}, {guid(feed, offset)}: {got}, expected {want}"
                )
        if len(docs) != len(ever):
            outcome.duplicated += abs(len(docs) - len(ever))
            outcome.problem(f"version {version}, feed {feed}: {len(docs)} documents, expected {len(ever)}")
