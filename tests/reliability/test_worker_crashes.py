"""Workers dying mid-import: kill -9 of importers and fetchers, and a graceful SIGTERM."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import dramatiq

from devstack.feedserver import FeedServer, Reply, Request
from job_importer.control import pause, resume, worker_states
from job_importer.deadletters import DeadLetter, DeadLetters
from job_importer.keys import Keys
from job_importer.queues import queue_stats
from job_importer.trigger import start_import
from tests.conftest import Workers, wait_for, wait_for_runs
from tests.reliability.harness import Catalog, Figures, RunCheck, assert_clean, check_final_state, record


def in_progress(redis_client, settings, queue: str) -> int:
    return next(stat.in_progress for stat in queue_stats(redis_client, settings) if stat.queue == queue)


CRASH_QUEUE = "crash-test"  # tests/reliability/crashing_actors.py (not imported: it builds a broker)


def message(queue: str, actor: str, *args: str) -> dramatiq.Message[Any]:
    return dramatiq.Message(queue_name=queue, actor_name=actor, args=args, kwargs={}, options={})


def all_finished(store, run_ids: list[str]) -> bool:
    return store.runs.count_documents(
        {"_id": {"$in": run_ids}, "status": {"$in": ["completed", "failed"]}}
    ) == len(run_ids)


def test_importers_killed_repeatedly_at_random_points(
    fast_settings, store, broker, redis_client, feed_server: FeedServer, workers: Workers
) -> None:
    # Rate-limited to ~10 chunk writes a second, so the kills land while chunks are in flight.
    settings = fast_settings.model_copy(update={"worker_rate_limit_max": 10})
    workers.settings = settings
    catalog = Catalog(feeds=4, items=300)
    feeds = catalog.configs(feed_server.url("/"))
    rng = random.Random(20261128)
    workers.start("fetcher")
    importers = [workers.start("importer"), workers.start("importer")]
    workers.wait_ready("fetcher")
    workers.wait_ready("importer", 2)

    started = time.monotonic()
    checks: list[RunCheck] = []
    kills: list[dict[str, int]] = []
    last_kill = started
    for version in (0, 1):
        feed_server.routes.update(catalog.routes(version))
        run_ids = start_import(settings, store, broker, feeds, "cli").run_ids
        checks += [
            RunCheck(run_id, feed, version, version - 1 if version else None)
            for feed, run_id in enumerate(run_ids)
        ]
        for _ in range(4):  # up to four kills per version, each at a random moment
            time.sleep(rng.uniform(0.5, 2.0))
            if all_finished(store, run_ids):
                break
            victim = rng.randrange(len(importers))
            kills.append(
                {"version": version, "in_flight": in_progress(redis_client, settings, settings.import_queue)}
            )
            workers.kill(importers[victim])
            last_kill = time.monotonic()
            importers[victim] = workers.start("importer")
        wait_for_runs(store, run_ids, timeout=180)
    finished = time.monotonic()

    outcome = check_final_state(
        settings, store, redis_client, catalog, checks, {feed: 1 for feed in range(catalog.feeds)}
    )
    figures = Figures.of(
        "importer kill -9, repeated",
        f"{len(kills)} kill -9 of one of two importer processes at random moments (2 imports, edits and additions between them)",
        outcome,
        started=started,
        recovered_from=last_kill,
        finished=finished,
        kills=kills,
    )
    record(figures)
    assert_clean(figures)
    assert sum(1 for kill in kills if kill["in_flight"]) >= 3, kills  # the kills did hit work in progress


def drip_once(body: bytes, started: threading.Event) -> Callable[[Request], Reply]:
    """A route whose first response trickles in over ~3 s (and signals that it began); later ones are quick."""
    calls = {"n": 0}

    def route(request: Request) -> Reply:
        calls["n"] += 1
        if calls["n"] > 1:
            return Reply(body=body)
        size = len(body) // 30 + 1

        def parts() -> Iterator[bytes]:
            started.set()
            yield from (body[i : i + size] for i in range(0, len(body), size))

        return Reply(body=parts(), chunk_delay_s=0.1)

    return route


def test_fetcher_killed_mid_fetch_and_mid_enqueue_while_the_feed_changes(
    fast_settings, store, broker, redis_client, feed_server: FeedServer, workers: Workers
) -> None:
    settings = fast_settings
    workers.settings = settings
    catalog = Catalog(feeds=2, items=400, added_per_version=30)
    feeds = catalog.configs(feed_server.url("/"))
    feed_server.routes.update(catalog.routes(0))
    fetcher = workers.start("fetcher")
    workers.start("importer")
    workers.wait_ready("fetcher")
    workers.wait_ready("importer")
    started = time.monotonic()
    baseline = wait_for_runs(store, start_import(settings, store, broker, feeds, "cli").run_ids)
    checks = [RunCheck(run["_id"], feed, 0, None) for feed, run in enumerate(baseline)]

    # Mid-fetch: the fetcher dies while the body is still arriving; the feed changes before the retry.
    began = threading.Event()
    feed_server.routes[catalog.path(0)] = drip_once(catalog.body(0, 2), began)
    [mid_fetch] = start_import(settings, store, broker, feeds[:1], "cli").run_ids
    assert began.wait(30)
    workers.kill(fetcher)
    killed_at = time.monotonic()
    fetcher = workers.start("fetcher")
    checks.append(RunCheck(mid_fetch, 0, 2, 0))
    wait_for_runs(store, [mid_fetch], timeout=120)
    mid_fetch_recovery = time.monotonic() - killed_at

    # Mid-enqueue: two-item chunks, the importer paused so that they pile up; the fetcher is frozen
    # (SIGSTOP) once some are sent, checked to be mid-way, then killed. The feed changes before the retry.
    pause(redis_client, settings.queue_namespace, [settings.import_queue])
    wait_for(
        lambda: worker_states(redis_client, settings.queue_namespace, settings.import_queue) == ["paused"]
    )
    workers.kill(fetcher)
    fetcher = workers.start("fetcher", worker_batch_size=2)
    workers.wait_ready("fetcher")
    feed_server.routes[catalog.path(1)] = catalog.body(1, 1)
    [mid_enqueue] = start_import(settings, store, broker, feeds[1:], "cli").run_ids
    queue_key = f"{settings.queue_namespace}:{settings.import_queue}"
    wait_for(lambda: redis_client.llen(queue_key) >= 30, 60, interval=0.005, what="chunks being sent")
    os.killpg(fetcher.pid, signal.SIGSTOP)
    sent_before_kill = redis_client.llen(queue_key)
    run = store.runs.find_one({"_id": mid_enqueue})
    assert run["status"] == "fetching" and run["chunks_total"] is None, run  # really mid-enqueue
    workers.kill(fetcher)
    killed_at = time.monotonic()
    feed_server.routes[catalog.path(1)] = catalog.body(1, 2)
    workers.start("fetcher", worker_batch_size=2)
    resume(redis_client, settings.queue_namespace, [settings.import_queue])
    checks.append(RunCheck(mid_enqueue, 1, 2, 0))

    runs = wait_for_runs(store, [mid_fetch, mid_enqueue], timeout=180)
    finished = time.monotonic()
    outcome = check_final_state(settings, store, redis_client, catalog, checks, {0: 2, 1: 2})
    figures = Figures.of(
        "fetcher kill -9 mid-fetch and mid-enqueue",
        f"kill -9 of the fetcher while a body was arriving, and after it had sent {sent_before_kill} two-item chunks of a {len(catalog.entries(1, 1))}-entry feed; each feed changed before the redelivered fetch",
        outcome,
        started=started,
        recovered_from=killed_at,
        finished=finished,
        fetch_attempts=[run["fetch_attempts"] for run in runs],
        chunks_sent_before_kill=sent_before_kill,
        mid_fetch_recovery_s=round(mid_fetch_recovery, 2),
    )
    record(figures)
    assert_clean(figures)
    assert [run["fetch_attempts"] for run in runs] == [2, 2]  # each was fetched again after the kill


def test_sigterm_finishes_or_returns_in_flight_work(
    fast_settings, store, broker, redis_client, feed_server: FeedServer, workers: Workers
) -> None:
    settings = fast_settings.model_copy(update={"worker_rate_limit_max": 5})
    workers.settings = settings
    catalog = Catalog(feeds=3, items=300)
    feeds = catalog.configs(feed_server.url("/"))
    feed_server.routes.update(catalog.routes(0))
    fetcher = workers.start("fetcher")
    importer = workers.start("importer")
    workers.wait_ready("fetcher")
    workers.wait_ready("importer")
    started = time.monotonic()

    # The importer is stopped while it writes: what it holds is finished or back in the queue at once.
    run_ids = start_import(settings, store, broker, feeds, "cli").run_ids
    checks = [RunCheck(run_id, feed, 0, None) for feed, run_id in enumerate(run_ids)]

    def progress() -> tuple[int, int]:
        runs = list(store.runs.find({"_id": {"$in": run_ids}}))
        return sum(run["chunks_accounted"] for run in runs), sum(run["chunks_total"] or 0 for run in runs)

    wait_for(
        lambda: (
            store.runs.count_documents({"_id": {"$in": run_ids}, "status": "importing"}) == len(run_ids)
            and progress()[0] >= 5
        ),
        90,
        what="the import to be under way",
    )
    stopping = time.monotonic()
    importer_code = workers.terminate(importer)
    importer_stop_s = time.monotonic() - stopping
    done, total = progress()
    queued = redis_client.llen(f"{settings.queue_namespace}:{settings.import_queue}")
    left_claimed = in_progress(redis_client, settings, settings.import_queue)
    workers.start("importer")
    wait_for_runs(store, run_ids, timeout=180)

    # The fetcher is stopped mid-download: that fetch completes; the fetches it had not begun go back.
    began = threading.Event()
    feed_server.routes.update(catalog.routes(1))
    feed_server.routes[catalog.path(0)] = drip_once(catalog.body(0, 1), began)
    hits_before = dict(feed_server.hits)
    run_ids = start_import(settings, store, broker, feeds, "cli").run_ids
    checks += [RunCheck(run_id, feed, 1, 0) for feed, run_id in enumerate(run_ids)]
    assert began.wait(30)
    stopping = time.monotonic()
    fetcher_code = workers.terminate(fetcher)
    fetcher_stop_s = time.monotonic() - stopping
    workers.start("fetcher")
    wait_for_runs(store, run_ids, timeout=180)
    finished = time.monotonic()

    outcome = check_final_state(settings, store, redis_client, catalog, checks, dict.fromkeys(range(3), 1))
    figures = Figures.of(
        "graceful shutdown (SIGTERM)",
        "SIGTERM to the importer mid-import and to the fetcher mid-download; replacements started",
        outcome,
        started=started,
        recovered_from=stopping,
        finished=finished,
        importer_stop_s=round(importer_stop_s, 2),
        fetcher_stop_s=round(fetcher_stop_s, 2),
        chunks_done_at_stop=done,
        chunks_requeued_at_stop=queued,
        chunks_total=total,
    )
    record(figures)
    assert_clean(figures)
    assert (importer_code, fetcher_code) == (0, 0)
    # Nothing was left claimed by the stopped importer: every chunk was written or back in the queue.
    assert left_claimed == 0 and done + queued == total, (done, queued, total, left_claimed)
    # The fetch in flight was finished, not redone: the dripping feed was downloaded once.
    assert feed_server.hits[catalog.path(0)] - hits_before.get(catalog.path(0), 0) == 1


def test_a_message_that_keeps_killing_its_worker_is_dead_lettered(
    fast_settings, broker, redis_client
) -> None:
    settings = fast_settings.model_copy(update={"worker_crash_limit": 2, "metrics_enabled": False})
    env = {**os.environ, **settings.as_env()}
    argv = [sys.executable, "-m", "dramatiq", "tests.reliability.crashing_actors", "--processes", "1"]
    argv += ["--threads", "2", "--queues", CRASH_QUEUE]
    done_key = f"{settings.queue_namespace}:crash-test-done"
    poison = broker.enqueue(message(CRASH_QUEUE, "die_or_mark", "die", done_key))
    broker.enqueue(message(CRASH_QUEUE, "die_or_mark", "mark", done_key))

    def dead_letters() -> list[DeadLetter]:
        return DeadLetters(redis_client, settings.queue_namespace, CRASH_QUEUE).list()

    deaths = 0
    for _ in range(
        settings.worker_crash_limit + 2
    ):  # a supervisor restarting the worker, as Kubernetes would
        worker = subprocess.Popen(
            argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        try:
            wait_for(
                lambda worker=worker: worker.poll() is not None or bool(dead_letters()),
                60,
                what="the worker to die or the message to be dead-lettered",
            )
        finally:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
                worker.wait(timeout=30)
            else:
                deaths += 1
        if dead_letters():
            break
    letters = dead_letters()
    assert len(letters) == 1, [letter.excerpt[:160] for letter in letters]
    [letter] = letters
    assert letter.message_id == poison.options["redis_message_id"]
    assert letter.reason.startswith("WorkerCrashes: the worker died 2 times"), letter.reason
    assert deaths == settings.worker_crash_limit  # it took its worker down twice, not a third time
    assert redis_client.get(done_key) == b"done"  # the other message was not lost with it
    assert redis_client.hlen(Keys(settings.queue_namespace).deliveries()) == 0
