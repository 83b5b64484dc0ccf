"""`--json` says what the API says: the same field names and values (``run_id``, not ``_id``)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from pydantic import TypeAdapter

from job_importer import failed_items, feed_registry, history
from job_importer.deadletters import DeadLetter, DeadLetters
from services.api.failed import _item
from services.api.feeds import feed_view
from services.api.models import FailedItem, Feed, FeedHealth, Queue, Run, Started
from tests.cli.helpers import ERROR, cli, in_terminal


def as_api(model: Any) -> Any:
    return json.loads(model.model_dump_json())


def test_runs_and_failed_items_match_the_api(settings, store, seeded: dict[str, Any]) -> None:
    runs = json.loads(cli(settings, "runs", "--json").stdout)
    assert [set(run) for run in runs] == [set(Run.model_fields)] * 2
    assert runs == [as_api(Run.from_doc(doc)) for doc in history.list_runs(store)]
    failed = json.loads(cli(settings, "failed", "--json").stdout)
    assert [set(row) for row in failed] == [set(FailedItem.model_fields)]
    assert failed == [as_api(_item(doc)) for doc in failed_items.list_failed(store)]


def test_feeds_match_the_api(settings, store, seeded: dict[str, Any]) -> None:
    [feed] = json.loads(cli(settings, "feeds", "list", "--json").stdout)
    assert set(feed) == set(Feed.model_fields) and set(feed["health"]) == set(FeedHealth.model_fields)
    assert feed == as_api(feed_view(feed_registry.get_feed(store, seeded["feed_id"]), settings))
    assert (feed["health"]["consecutive_failures"], feed["health"]["last_error"]) == (1, ERROR)
    disabled = json.loads(cli(settings, "feeds", "disable", seeded["feed_id"], "--json").stdout)
    assert set(disabled) == set(Feed.model_fields) and disabled["enabled"] is False


def test_paging_and_the_batch_filter(settings, store, seeded: dict[str, Any]) -> None:
    _, oldest = (run["run_id"] for run in json.loads(cli(settings, "runs", "--json").stdout))
    page = json.loads(cli(settings, "runs", "--json", "--limit", "1", "--skip", "1").stdout)
    assert [run["run_id"] for run in page] == [oldest]
    [batch] = {run["batch_id"] for run in history.list_runs(store)}
    assert len(json.loads(cli(settings, "runs", "--json", "--batch", batch).stdout)) == 2
    assert json.loads(cli(settings, "runs", "--json", "--batch", "batch-none").stdout) == []
    dead = [row["message_id"] for row in json.loads(cli(settings, "dlq", "list", "--json").stdout)]
    paged = json.loads(cli(settings, "dlq", "list", "--json", "--limit", "1", "--skip", "1").stdout)
    assert len(dead) == 2 and [row["message_id"] for row in paged] == dead[1:]


def test_queue_commands_match_the_api(settings, redis_client, seeded: dict[str, Any]) -> None:
    queues = json.loads(cli(settings, "queues", "--json").stdout)
    assert [set(row) for row in queues] == [set(Queue.model_fields)] * 2
    assert {row["queue"]: row["dead"] for row in queues}[settings.import_queue] == 2
    paused = json.loads(cli(settings, "pause", "--queue", settings.fetch_queue, "--json").stdout)
    assert {row["queue"]: row["paused"] for row in paused} == {
        settings.fetch_queue: True,
        settings.import_queue: False,
    }
    resumed = json.loads(cli(settings, "resume", "--json").stdout)
    assert not any(row["paused"] for row in resumed)
    dead = json.loads(cli(settings, "dlq", "list", "--json").stdout)
    assert [set(row) for row in dead] == [{field.name for field in dataclasses.fields(DeadLetter)}] * 2
    assert {row["message_id"] for row in dead} == set(seeded["dead"])
    letters = DeadLetters(redis_client, settings.queue_namespace, settings.import_queue).list()
    assert dead == json.loads(TypeAdapter(list[DeadLetter]).dump_json(letters))  # as GET /queues/{q}/dead


def test_import_without_wait_matches_the_api_and_warns_without_workers(settings, store, broker) -> None:
    result = cli(settings, "import", "--feed", "http://127.0.0.1:9/feed.xml", "--json")
    assert result.returncode == 0, result.stderr
    assert set(json.loads(result.stdout)) == set(Started.model_fields)
    assert "warning: no fetcher or importer worker is running: the runs stay queued" in result.stderr


def test_destructive_commands_ask_first(settings, store, seeded: dict[str, Any]) -> None:
    refused = cli(settings, "dlq", "purge", "--all")  # no terminal to ask on
    assert refused.returncode == 2 and "add --yes" in refused.stderr
    declined = in_terminal(settings, 100, "dlq", "purge", "--all", answer="n")
    assert "Delete 2 dead message(s) of" in declined.text and declined.returncode == 1
    assert len(json.loads(cli(settings, "dlq", "list", "--json").stdout)) == 2  # nothing deleted
    purged = cli(settings, "dlq", "purge", seeded["dead"][0], "--yes", "--json")
    assert json.loads(purged.stdout) == {"count": 1, "not_found": []}
    accepted = in_terminal(settings, 100, "dlq", "purge", "--all", answer="y")
    assert accepted.returncode == 0 and "purged 1 message(s)" in accepted.text
    assert cli(settings, "cleanup").returncode == 2
    cleaned = cli(settings, "cleanup", "--days", "1", "--yes", "--json")
    assert json.loads(cleaned.stdout) == {"runs": 0, "failed_items": 0}  # nothing is a day old yet
