"""Nothing lost when a worker dies mid-chunk; dead letters accounted for and recoverable."""

from __future__ import annotations

from devstack.feedserver import FeedServer
from devstack.samplefeeds import jobicy_feed, sample_jobs
from job_importer.accounting import reconcile_dead_letters
from job_importer.deadletters import DeadLetters
from job_importer.settings import FeedConfig
from job_importer.trigger import start_import
from tests.conftest import Workers, assert_adds_up, free_port, wait_for, wait_for_runs


def test_kill_9_of_the_importer_mid_run_loses_nothing_and_duplicates_nothing(
    settings, store, broker, workers: Workers
) -> None:
    settings = settings.model_copy(update={"worker_batch_size": 20})
    workers.settings = settings
    count = 800
    jobs = sample_jobs(count, seed=21, description_bytes=300)
    with FeedServer({"/big.xml": jobicy_feed(jobs)}) as server:
        feed = FeedConfig(url=server.url("/big.xml"), source="crash")
        workers.start("fetcher")
        importer = workers.start("importer")
        workers.wait_ready("fetcher")
        workers.wait_ready("importer")
        started = start_import(settings, store, broker, [feed], "cli")
        run_id = started.run_ids[0]
        wait_for(
            lambda: (store.runs.find_one({"_id": run_id}) or {}).get("chunks_accounted", 0) >= 3,
            60,
            interval=0.01,
        )
        workers.kill(importer)  # kill -9 mid-run: its claimed chunks must come back
        partial = store.jobs.count_documents({})
        assert partial < count
        workers.start("importer")
        [run] = wait_for_runs(store, started.run_ids, timeout=120)
    assert run["status"] == "completed"
    assert (run["fetched"], run["new"], run["failed"], run["duplicates"]) == (count, count, 0, 0)
    assert_adds_up(run)
    expected = {f"crash#https://jobicy.example/?post_type=job_listing&p={job.number}" for job in jobs}
    assert {doc["_id"] for doc in store.jobs.find({}, {"_id": 1})} == expected  # _id is unique: once each


def test_store_outage_dead_letters_chunks_which_requeue_to_completion(
    settings, store, broker, redis_client, workers: Workers
) -> None:
    dead_mongo = f"mongodb://127.0.0.1:{free_port()}/?directConnection=true"
    with FeedServer({"/f.xml": jobicy_feed(sample_jobs(60, seed=5))}) as server:
        feed = FeedConfig(url=server.url("/f.xml"), source="outage")
        workers.start("fetcher")
        broken = workers.start(
            "importer", mongodb_url=dead_mongo, mongodb_timeout_ms=300, import_max_retries=1
        )
        workers.wait_ready("fetcher")
        workers.wait_ready("importer")
        started = start_import(settings, store, broker, [feed], "cli")
        run_id = started.run_ids[0]
        dead = wait_for(
            lambda: (
                len(DeadLetters(redis_client, settings.queue_namespace, settings.import_queue).list()) == 1
                and DeadLetters(redis_client, settings.queue_namespace, settings.import_queue).list()
            ),
            60,
        )
        assert (
            "ServerSelectionTimeoutError" in dead[0].reason
            and dead[0].items == 60
            and dead[0].run_id == run_id
        )
        # The importer could not write the accounting either (MongoDB is down for it); housekeeping does.
        reconcile_dead_letters(settings, store, broker)
        run = wait_for_runs(store, [run_id])[0]
        assert (run["status"], run["new"], run["failed"]) == ("completed", 0, 60)
        assert_adds_up(run)

        workers.kill(broken)
        workers.start("importer")
        assert DeadLetters.of(broker, settings.import_queue).requeue(broker) == 1
        wait_for(lambda: store.runs.find_one({"_id": run_id})["new"] == 60, 60)
    run = store.runs.find_one({"_id": run_id})
    assert (run["status"], run["new"], run["failed"], run["chunks_dead"]) == ("completed", 60, 0, [])
    assert_adds_up(run)
    assert store.jobs.count_documents({}) == 60
    assert DeadLetters(redis_client, settings.queue_namespace, settings.import_queue).list() == []


def test_a_message_that_is_not_a_chunk_is_dead_lettered_at_once_and_can_be_purged(
    settings, store, broker, redis_client, workers: Workers
) -> None:
    import dramatiq

    from job_importer.contract import IMPORT_ACTOR
    from job_importer.pending import PendingItems

    workers.start("importer")
    workers.wait_ready("importer")
    broker.enqueue(
        dramatiq.Message(
            queue_name=settings.import_queue,
            actor_name=IMPORT_ACTOR,
            args=({"bogus": 1},),
            kwargs={},
            options={},
        )
    )
    [dead] = wait_for(
        lambda: DeadLetters(redis_client, settings.queue_namespace, settings.import_queue).list(), 30
    )
    assert dead.reason.startswith("InvalidChunk: not a chunk message")
    assert dead.run_id is None and dead.actor == IMPORT_ACTOR
    pending = PendingItems(redis_client, settings.queue_namespace, settings.import_queue, 60)
    assert DeadLetters(redis_client, settings.queue_namespace, settings.import_queue).purge(pending) == 1
    assert DeadLetters(redis_client, settings.queue_namespace, settings.import_queue).list() == []


def test_a_dead_lettered_fetch_requeues_into_a_completed_run(
    settings, store, broker, redis_client, workers: Workers
) -> None:
    dead_mongo = f"mongodb://127.0.0.1:{free_port()}/?directConnection=true"
    with FeedServer({"/f.xml": jobicy_feed(sample_jobs(15, seed=6))}) as server:
        feed = FeedConfig(url=server.url("/f.xml"), source="dead-fetch")
        broken = workers.start("fetcher", mongodb_url=dead_mongo, mongodb_timeout_ms=300, fetch_max_retries=0)
        workers.start("importer")
        workers.wait_ready("fetcher")
        started = start_import(settings, store, broker, [feed], "cli")
        [dead] = wait_for(
            lambda: DeadLetters(redis_client, settings.queue_namespace, settings.fetch_queue).list(), 60
        )
        assert dead.run_id == started.run_ids[0] and "ServerSelectionTimeoutError" in dead.reason
        reconcile_dead_letters(settings, store, broker)
        [run] = wait_for_runs(store, started.run_ids)
        assert run["status"] == "failed" and "fetch dead-lettered" in run["error"]

        workers.kill(broken)
        workers.start("fetcher")
        assert DeadLetters.of(broker, settings.fetch_queue).requeue(broker) == 1
        run = wait_for(
            lambda: (r := store.runs.find_one({"_id": started.run_ids[0]}))["status"] == "completed" and r, 60
        )
    assert (run["new"], run["error"]) == (15, None)
    assert_adds_up(run)
