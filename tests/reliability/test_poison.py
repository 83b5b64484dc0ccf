"""Poison messages and items: they end up dead or failed with a reason, and never hold up the rest."""

from __future__ import annotations

import time
from typing import Any

import dramatiq

from devstack.feedserver import FeedServer
from job_importer import history
from job_importer.accounting import reconcile_dead_letters
from job_importer.contract import IMPORT_ACTOR, MAX_SHORT_CHARS, content_hash
from job_importer.deadletters import UNDECODABLE, DeadLetters
from job_importer.settings import FeedConfig
from job_importer.trigger import start_import
from tests.conftest import Workers, wait_for, wait_for_runs
from tests.reliability.harness import Catalog, Figures, RunCheck, assert_clean, check_final_state, record


def message(queue: str, actor: str, *args: Any) -> dramatiq.Message[Any]:
    return dramatiq.Message(queue_name=queue, actor_name=actor, args=args, kwargs={}, options={})


def item(number: int, **changes: Any) -> dict[str, Any]:
    fields = {"title": f"Poison-proof {number}", "company": "Acme", **changes}
    guid = f"poison-{number}"
    return {
        "id": f"poison#{guid}",
        "source": "poison",
        "guid": guid,
        "content_hash": content_hash(fields),
        **fields,
    }


def test_poison_messages_and_items_do_not_block_the_queue(
    settings, store, broker, redis_client, feed_server: FeedServer, workers: Workers
) -> None:
    workers.settings = settings = settings.model_copy(update={"worker_batch_size": 20, "retry_base_ms": 50})
    catalog = Catalog(feeds=2, items=200)
    feeds = catalog.configs(feed_server.url("/"))
    feed_server.routes.update(catalog.routes(0))
    workers.start_both()
    started = time.monotonic()
    queue = settings.import_queue

    # A run whose only chunk mixes good items with ones MongoDB must never see.
    [run_id] = history.create_runs(
        store, [FeedConfig(url="http://poison.example/feed", source="poison")], "cli", "b"
    )
    attempt = (history.start_fetch(store, run_id) or {})["fetch_attempts"]
    good = [item(n) for n in range(3)]
    bad = [
        item(10, extra={"$where": "sleep(1000)"}),  # an operator as a field name
        item(11, extra={"salary.max": "9"}),  # a dotted path as a field name
        item(12, extra={"a\x00b": "x"}),  # NUL in a key: not encodable as BSON
        item(13, title="lone \ud800 surrogate"),  # not encodable as UTF-8
        item(14, title="x" * (MAX_SHORT_CHARS + 1)),  # over the cap
        {"id": "poison#no-guid", "title": "missing fields"},
    ]
    chunk = {
        "run_id": run_id,
        "attempt": attempt,
        "seq": 0,
        "feed_url": "http://poison.example/feed",
        "fetched_at": history.now().isoformat(),
        "items": [*good[:2], *bad, good[2]],
    }
    history.finish_fetch(
        store, run_id, http_status=200, fetched=len(chunk["items"]), duplicates=0, failures=[], chunks_total=1,
        failures_cap=100, attempt=attempt,
    )  # fmt: skip

    poison = [
        message(queue, IMPORT_ACTOR, "not a chunk"),  # the wrong type altogether
        message(queue, IMPORT_ACTOR, [1, 2, 3]),
        message(queue, IMPORT_ACTOR),  # no arguments: the actor cannot even be called
        message(queue, "no_such_actor", {"run_id": "x"}),  # an actor nobody declared
    ]
    # Not Dramatiq messages at all: only possible by writing to Redis directly.
    undecodable = {"garbage-1": b"\xff\xfe not JSON", "garbage-2": b'{"not": "a message"}'}
    run_ids = start_import(settings, store, broker, feeds, "cli").run_ids
    for poisoned in poison[:2]:
        broker.enqueue(poisoned)
    push_raw(redis_client, settings.queue_namespace, queue, "garbage-1", undecodable["garbage-1"])
    broker.enqueue(broker_message := chunk_message(queue, chunk))
    for poisoned in poison[2:]:
        broker.enqueue(poisoned)
    push_raw(redis_client, settings.queue_namespace, queue, "garbage-2", undecodable["garbage-2"])
    dead_expected = len(poison) + len(undecodable)

    dead = wait_for(
        lambda: (
            len(found := DeadLetters(redis_client, settings.queue_namespace, queue).list()) == dead_expected
            and found
        ),
        90,
        what="the poison messages to be dead-lettered",
    )
    wait_for_runs(store, [*run_ids, run_id], timeout=120)
    reconciled = reconcile_dead_letters(settings, store, broker)  # must not trip over them either
    finished = time.monotonic()

    checks = [RunCheck(run, feed, 0, None) for feed, run in enumerate(run_ids)]
    outcome = check_final_state(
        settings, store, redis_client, catalog, checks, {0: 0, 1: 0}, expected_dead=dead_expected
    )
    # The poison chunk's own run: the good items written, each bad one failed with its reason.
    run = history.get_run(store, run_id) or {}
    reasons = {doc["key"]: doc["reason"] for doc in store.failed_items.find({"run_id": run_id})}
    written = {doc["_id"] for doc in store.jobs.find({"source": "poison"}, {"_id": 1})}
    if (run["status"], run["new"], run["failed"], run["fetched"]) != (
        "completed",
        3,
        len(bad),
        len(chunk["items"]),
    ):
        outcome.problem(f"poison chunk's run: {run}")
    if written != {data["id"] for data in good}:
        outcome.lost += len({data["id"] for data in good} - written)
        outcome.problem(f"written from the poison chunk: {written}")
    figures = Figures.of(
        "poison messages and items",
        "4 messages that are not chunks (a string, a list, no arguments, an unknown actor), 2 that are "
        f"not messages (not JSON, JSON of another shape) and a chunk with {len(bad)} items MongoDB must "
        "not see, amid a normal import",
        outcome,
        started=started,
        recovered_from=None,
        finished=finished,
        dead_reasons=[letter.reason[:120] for letter in dead],
        item_reasons=reasons,
        reconciled=reconciled,
    )
    record(figures)
    assert_clean(figures)
    assert broker_message.message_id not in {letter.message_id for letter in dead}
    assert {letter.actor for letter in dead} == {IMPORT_ACTOR, "no_such_actor", UNDECODABLE}
    garbage = {letter.message_id: letter for letter in dead if letter.actor == UNDECODABLE}
    assert garbage.keys() == undecodable.keys()
    assert all(letter.reason.startswith("undecodable message: ") for letter in garbage.values())
    namespace = settings.queue_namespace
    assert (
        DeadLetters(redis_client, namespace, queue).requeue(broker, list(garbage)) == 0
    )  # nothing a worker could run
    assert DeadLetters(redis_client, namespace, queue).purge(None, list(garbage)) == len(garbage)
    assert len(DeadLetters(redis_client, namespace, queue).list()) == len(poison)
    assert all(letter.run_id is None and letter.items == 0 for letter in dead)
    assert "never processed" in next(letter.reason for letter in dead if letter.actor == "no_such_actor")
    assert reasons.keys() == {
        "poison#poison-10",
        "poison#poison-11",
        "poison#poison-12",
        "poison#poison-13",
        "poison#poison-14",
        "poison#no-guid",
    }
    assert "extra" in reasons["poison#poison-10"] and "extra" in reasons["poison#poison-11"]
    assert "title" in reasons["poison#poison-14"] and "guid" in reasons["poison#no-guid"]


def push_raw(client, namespace: str, queue: str, message_id: str, data: bytes) -> None:
    """Put bytes in a queue the way Dramatiq's Redis broker enqueues a message."""
    client.hset(f"{namespace}:{queue}.msgs", message_id, data)
    client.rpush(f"{namespace}:{queue}", message_id)


def chunk_message(queue: str, chunk: dict[str, Any]) -> dramatiq.Message[Any]:
    return message(queue, IMPORT_ACTOR, chunk)
