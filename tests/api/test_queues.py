"""Queues through the API: counts, pause/resume, and dead letters (list, requeue, delete)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dramatiq
import httpx
import pytest

from devstack.samplefeeds import sample_jobs
from job_importer.contract import IMPORT_ACTOR
from tests.api.helpers import serve, start, wait_finished
from tests.api_server import Stack
from tests.conftest import wait_for


def counts(client: httpx.Client, queue: str) -> dict[str, Any]:
    [stats] = [q for q in client.get("/queues").json() if q["queue"] == queue]
    return dict(stats)


def pause_import(client: httpx.Client) -> None:
    """Pause the import queue and wait until its workers have stopped taking messages."""
    assert client.post("/queues/import/pause").status_code == 200
    wait_for(
        lambda: (q := counts(client, "import"))["workers_paused"] == q["workers"] >= 1, 10, what="the pause"
    )


@pytest.fixture
def paused_import(stack: Stack, client: httpx.Client) -> Iterator[None]:
    pause_import(client)
    yield
    client.post("/queues/import/resume")


def send_bad_chunk(stack: Stack) -> None:
    """A message the importer cannot read: it goes to the dead letters at once (no retry helps)."""
    stack.broker.enqueue(
        dramatiq.Message(
            queue_name=stack.settings.import_queue,
            actor_name=IMPORT_ACTOR,
            args=({"not": "a chunk"},),
            kwargs={},
            options={},
        )
    )


def test_queue_counts_and_live_workers(anon: httpx.Client) -> None:
    queues = anon.get("/queues").json()
    assert [q["queue"] for q in queues] == ["fetch", "import"]
    assert all(q["workers"] >= 1 and not q["paused"] for q in queues)
    assert set(queues[0]) == {
        "queue",
        "ready",
        "delayed",
        "in_progress",
        "dead",
        "paused",
        "workers",
        "workers_paused",
    }


def test_pause_holds_messages_and_resume_lets_them_through(
    stack: Stack, client: httpx.Client, paused_import: None
) -> None:
    assert counts(client, "import")["paused"] is True
    [run_id] = start(client, serve(stack, sample_jobs(30, start=60_000)))
    wait_for(lambda: client.get(f"/imports/{run_id}").json()["status"] == "importing", 30, what="the fetch")
    ready = wait_for(lambda: counts(client, "import")["ready"], 10, what="chunks to wait in the import queue")
    assert ready == 2  # 30 items in chunks of 20
    assert client.get(f"/imports/{run_id}").json()["new"] == 0
    resumed = client.post("/queues/import/resume").json()
    assert [q["paused"] for q in resumed] == [False, False]
    assert wait_finished(client, run_id)["new"] == 30


def test_unknown_queues_are_404(client: httpx.Client) -> None:
    for method, path in [
        ("POST", "/queues/nope/pause"),
        ("GET", "/queues/nope/dead"),
        ("DELETE", "/queues/nope/dead"),
    ]:
        response = client.request(method, path)
        assert response.status_code == 404
        assert response.json() == {"detail": "unknown queue 'nope'; queues are fetch, import"}


def test_dead_letters_listed_requeued_and_deleted(stack: Stack, client: httpx.Client) -> None:
    send_bad_chunk(stack)
    wait_for(lambda: counts(client, "import")["dead"] == 1, 30, what="the bad chunk to die")
    page = client.get("/queues/import/dead").json()
    assert page["total"] == 1
    [letter] = page["items"]
    assert letter["actor"] == IMPORT_ACTOR and letter["run_id"] is None and letter["items"] == 0
    assert letter["reason"].startswith("InvalidChunk: not a chunk message")
    assert '"not": "a chunk"' in letter["excerpt"] or '"not":"a chunk"' in letter["excerpt"]

    pause_import(client)
    try:
        assert client.post(f"/queues/import/dead/{letter['message_id']}/requeue").json() == {"count": 1}
        after = counts(client, "import")
        assert (after["dead"], after["ready"]) == (0, 1)  # back in its queue, waiting
        missing = client.post(f"/queues/import/dead/{letter['message_id']}/requeue")
        assert missing.status_code == 404 and "no dead message" in missing.json()["detail"]
    finally:
        client.post("/queues/import/resume")
    wait_for(lambda: counts(client, "import")["dead"] == 1, 30, what="it to die again")
    [again] = client.get("/queues/import/dead").json()["items"]  # a new Redis id, the same message
    assert '"requeued_from_dlq":true' in again["excerpt"] and again["message_id"] != letter["message_id"]
    assert client.delete(f"/queues/import/dead/{again['message_id']}").json() == {"count": 1}
    assert client.delete(f"/queues/import/dead/{again['message_id']}").status_code == 404
    assert counts(client, "import")["dead"] == 0


def test_requeue_all_and_delete_all(stack: Stack, client: httpx.Client) -> None:
    send_bad_chunk(stack)
    send_bad_chunk(stack)
    wait_for(lambda: counts(client, "import")["dead"] == 2, 30, what="two dead letters")
    pause_import(client)
    try:
        assert client.post("/queues/import/dead/requeue").json() == {"count": 2}
        assert counts(client, "import")["ready"] == 2
    finally:
        client.post("/queues/import/resume")
    wait_for(lambda: counts(client, "import")["dead"] == 2, 30, what="both to die again")
    page = client.get("/queues/import/dead", params={"page_size": 1, "page": 2}).json()
    assert page["total"] == 2 and len(page["items"]) == 1
    assert client.delete("/queues/import/dead").json() == {"count": 2}
    assert client.get("/queues/import/dead").json() == {"items": [], "page": 1, "page_size": 50, "total": 0}
