"""Failed items through the API: list with reasons, send import-stage ones again, delete."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import quote

import httpx

from devstack.samplefeeds import sample_jobs
from job_importer import failed_items, feed_registry, history
from job_importer.contract import JobItem, chunk_message, content_hash
from job_importer.failed_items import ItemFailure
from job_importer.settings import FeedConfig, FeedSpec
from tests.api.helpers import scrape, serve, start, wait_finished
from tests.api_server import Stack, metric_value


def valid_item(guid: str, title: str = "Welder") -> dict[str, object]:
    fields = {"title": title, "company": "Failco", "extra": {}}
    item = JobItem(
        id=f"failco#{guid}", source="failco", guid=guid, content_hash=content_hash(fields), **fields
    )  # type: ignore[arg-type]
    return item.model_dump(mode="json")


def import_chunk_directly(stack: Stack, items: list[dict[str, object]]) -> str:
    """A run whose one chunk is sent as the fetcher would send it; returns the run id."""
    settings, store = stack.settings, stack.store
    [run_id] = history.create_runs(
        store, [FeedConfig(url="https://failco.example/feed.xml")], "cli", "batch-test"
    )
    history.start_fetch(store, run_id)
    message = chunk_message(
        settings,
        run_id=run_id,
        seq=0,
        feed_url="https://failco.example/feed.xml",
        fetched_at=datetime.now(UTC),
        items=[json.dumps(item).encode() for item in items],
    )
    stack.broker.enqueue(message)
    history.finish_fetch(
        store,
        run_id,
        http_status=200,
        fetched=len(items),
        duplicates=0,
        failures=[],
        chunks_total=1,
        failures_cap=100,
    )
    return run_id


def test_an_invalid_item_is_listed_and_can_be_sent_again_as_a_new_run(
    stack: Stack, client: httpx.Client
) -> None:
    bad = {**valid_item("g-bad"), "title": None}  # fails the importer's validation, with its payload kept
    run_id = import_chunk_directly(stack, [valid_item("g-ok"), bad])
    run = wait_finished(client, run_id)
    assert (run["new"], run["failed"]) == (1, 1)
    [item] = client.get("/failed-items", params={"run_id": run_id}).json()["items"]
    assert (item["stage"], item["resendable"], item["guid"]) == ("import", True, "g-bad")
    assert item["reason"].startswith("invalid item: title")
    assert '"id": "failco#g-bad"' in item["payload_excerpt"]

    response = client.post(f"/failed-items/{quote(item['id'], safe='')}/requeue")
    assert response.status_code == 202
    resent = response.json()
    assert (resent["items"], resent["skipped"], len(resent["run_ids"])) == (1, 0, 1)
    again = wait_finished(client, resent["run_ids"][0])
    assert (again["trigger"], again["fetched"], again["failed"], again["status"]) == (
        "api",
        1,
        1,
        "completed",
    )
    assert client.get("/failed-items", params={"run_id": run_id}).json()["total"] == 0  # moved to the new run
    assert client.get("/failed-items", params={"run_id": again["run_id"]}).json()["total"] == 1
    assert client.get(f"/imports/{run_id}").json()["failed"] == 1  # the first run's history is unchanged


def test_a_rejected_item_sent_again_is_imported(stack: Stack, client: httpx.Client) -> None:
    [run_id] = history.create_runs(
        stack.store, [FeedConfig(url="https://failco.example/feed.xml")], "cli", "batch-x"
    )
    failed_items.record(
        stack.store, run_id, "https://failco.example/feed.xml",
        [ItemFailure(key="failco#g-retry", reason="MongoDB rejected the document: timeout", guid="g-retry", stage="import", payload=valid_item("g-retry", "Rigger"))],
    )  # fmt: skip
    resent = client.post("/failed-items/requeue", params={"run_id": run_id}).json()
    assert (resent["items"], resent["skipped"]) == (1, 0)
    run = wait_finished(client, resent["run_ids"][0])
    assert (run["fetched"], run["new"], run["failed"]) == (1, 1, 0)
    assert client.get(f"/jobs/{quote('failco#g-retry', safe='')}").json()["title"] == "Rigger"


def test_items_of_a_feed_of_the_registry_sent_again_keep_its_metric_label(
    stack: Stack, client: httpx.Client
) -> None:
    url = stack.feeds.url("/registered-failco.xml")  # never fetched (disabled); loopback if it were
    feed = feed_registry.add_feed(stack.store, FeedSpec(url=url, source="failco", enabled=False))
    try:
        [run_id] = history.create_runs(stack.store, [FeedConfig(url=url)], "cli", "batch-label")
        failed_items.record(
            stack.store, run_id, url,
            [ItemFailure(key="failco#g-label", reason="MongoDB rejected the document: timeout", guid="g-label", stage="import", payload=valid_item("g-label", "Fitter"))],
        )  # fmt: skip
        resent = client.post("/failed-items/requeue", params={"run_id": run_id}).json()
        assert wait_finished(client, resent["run_ids"][0])["new"] == 1
    finally:
        feed_registry.remove_feed(stack.store, feed.id)  # the stack's other tests list the feeds
    importer = scrape(f"http://127.0.0.1:{stack.settings.importer_metrics_port}/metrics")
    assert metric_value(importer, "job_importer_items_total", feed=url, outcome="new") == 1


def test_fetch_stage_failures_cannot_be_sent_again_but_can_be_deleted(
    stack: Stack, client: httpx.Client
) -> None:
    jobs = sample_jobs(6, start=70_000)
    jobs[2] = replace(jobs[2], guid="", link="")
    jobs[4] = replace(jobs[4], title="")
    [run_id] = start(client, serve(stack, jobs))
    assert wait_finished(client, run_id)["failed"] == 2
    items = client.get("/failed-items", params={"run_id": run_id, "stage": "fetch"}).json()["items"]
    assert len(items) == 2 and not any(item["resendable"] for item in items)

    refused = client.post(f"/failed-items/{quote(items[0]['id'], safe='')}/requeue")
    assert refused.status_code == 409
    assert "nothing was kept to send again" in refused.json()["detail"]
    everything = client.post("/failed-items/requeue", params={"run_id": run_id}).json()
    assert (everything["items"], everything["skipped"], everything["run_ids"]) == (0, 2, [])

    assert client.delete(f"/failed-items/{quote(items[0]['id'], safe='')}").json() == {"count": 1}
    assert client.delete(f"/failed-items/{quote(items[0]['id'], safe='')}").status_code == 404
    assert client.post(f"/failed-items/{quote(items[0]['id'], safe='')}/requeue").status_code == 404
    assert client.delete("/failed-items", params={"run_id": run_id}).json() == {"count": 1}
    assert client.get("/failed-items", params={"run_id": run_id}).json()["total"] == 0
