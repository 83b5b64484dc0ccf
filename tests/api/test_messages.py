"""The message browser through the API: every state with paging, one message in full (redacted),
promote, requeue and delete; against the package's running workers."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import dramatiq
import httpx

from devstack.feedserver import Reply, Request
from devstack.samplefeeds import jobicy_feed, sample_jobs
from job_importer import history
from job_importer.contract import IMPORT_ACTOR, fetch_message
from job_importer.keys import Keys
from job_importer.settings import FeedConfig
from tests.api.helpers import serve, wait_finished
from tests.api.test_queues import counts, send_bad_chunk
from tests.api_server import Stack
from tests.conftest import wait_for


def pause_fetch(client: httpx.Client) -> None:
    assert client.post("/queues/fetch/pause").status_code == 200
    wait_for(
        lambda: (q := counts(client, "fetch"))["workers_paused"] == q["workers"] >= 1, 10, what="the pause"
    )


def messages(client: httpx.Client, queue: str, state: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/queues/{queue}/messages", params={"state": state, **params})
    assert response.status_code == 200, response.text
    return dict(response.json())


def delayed_fetch(stack: Stack, url: str, delay_ms: int = 600_000) -> tuple[str, str]:
    """A fetch waiting for its ETA, as a retry with backoff waits; returns (run id, message id)."""
    feed = FeedConfig(url=url)
    [run_id] = history.create_runs(stack.store, [feed], "api", history.new_id("batch-"))
    message = stack.broker.enqueue(fetch_message(stack.settings, run_id, feed), delay=delay_ms)
    return run_id, message.options["redis_message_id"]


def test_ready_messages_are_paged_and_shown_in_full_without_credentials(
    stack: Stack, client: httpx.Client
) -> None:
    pause_fetch(client)
    try:
        secret_url = serve(stack, sample_jobs(2, seed=3)).replace("http://", "http://ops:s3cret@")
        started = client.post(
            "/imports/start", json={"feeds": [secret_url, serve(stack, []), serve(stack, [])]}
        )
        run_ids = started.json()["run_ids"]
        first = messages(client, "fetch", "ready", page_size=2)
        second = messages(client, "fetch", "ready", page_size=2, page=2)
        assert (first["total"], len(first["items"]), len(second["items"])) == (3, 2, 1)
        rows = first["items"] + second["items"]
        assert [row["run_id"] for row in rows] == run_ids  # delivery order
        assert {row["state"] for row in rows} == {"ready"} and {row["actor"] for row in rows} == {
            "fetch_feed"
        }
        detail = client.get(f"/queues/fetch/messages/{rows[0]['message_id']}").json()
        assert "http://***@127.0.0.1" in detail["payload"] and "s3cret" not in detail["payload"]
        assert detail["state"] == "ready" and detail["traceback"] is None
        deleted = client.post("/queues/fetch/messages/delete", json={"ids": [rows[1]["message_id"], "nope"]})
        assert deleted.json() == {"count": 1, "ids": [rows[1]["message_id"]], "skipped": ["nope"]}
        assert messages(client, "fetch", "ready")["total"] == 2
        gone = history.get_run(stack.store, run_ids[1])
        assert gone is not None and gone["status"] == "failed" and "deleted by an operator" in gone["error"]
        assert client.get(f"/queues/fetch/messages/{rows[1]['message_id']}").status_code == 404
    finally:
        client.post("/queues/fetch/resume")
    for run_id in (run_ids[0], run_ids[2]):
        wait_finished(client, run_id)


def test_a_delayed_message_is_listed_with_its_eta_and_promoted(stack: Stack, client: httpx.Client) -> None:
    run_id, message_id = delayed_fetch(stack, serve(stack, sample_jobs(3, seed=5)))
    page = messages(client, "fetch", "delayed", page_size=200)
    [row] = [row for row in page["items"] if row["message_id"] == message_id]
    assert row["state"] == "delayed" and row["run_id"] == run_id and row["eta"] is not None
    # A worker prefetches it and holds it until its ETA: deleting it then would not stop it.
    dq_claims = Keys(stack.settings.queue_namespace).claims("*", "fetch.DQ")
    wait_for(
        lambda: any(
            stack.broker.client.sismember(k, message_id)
            for k in stack.broker.client.scan_iter(match=dq_claims)
        ),
        30,
        what="a worker to prefetch the delayed message",
    )
    refused = client.post("/queues/fetch/messages/delete", json={"ids": [message_id]}).json()
    assert refused == {"count": 0, "ids": [], "skipped": [message_id]}
    promoted = client.post("/queues/fetch/messages/promote", json={"ids": [message_id]}).json()
    assert promoted == {"count": 1, "ids": [message_id], "skipped": []}
    run = wait_finished(client, run_id)  # now, not in ten minutes
    assert run["status"] == "completed" and run["fetched"] == 3


def test_a_message_in_progress_is_listed_and_cannot_be_deleted(stack: Stack, client: httpx.Client) -> None:
    release = threading.Event()

    def slow(_request: Request) -> Reply:
        release.wait(30)
        return Reply(body=jobicy_feed(sample_jobs(1, seed=9)))

    path = f"/{uuid.uuid4().hex[:8]}.xml"
    stack.feeds.routes[path] = slow
    [run_id] = client.post("/imports/start", json={"feeds": [stack.feeds.url(path)]}).json()["run_ids"]
    try:
        row = wait_for(
            lambda: next(
                (r for r in messages(client, "fetch", "in_progress")["items"] if r["run_id"] == run_id), None
            ),
            30,
            what="the fetch to be in progress",
        )
        assert client.get(f"/queues/fetch/messages/{row['message_id']}").json()["state"] == "in_progress"
        refused = client.post("/queues/fetch/messages/delete", json={"ids": [row["message_id"]]}).json()
        assert refused["skipped"] == [row["message_id"]]
    finally:
        release.set()
    assert wait_finished(client, run_id)["status"] == "completed"


def test_a_dead_message_shows_its_reason_and_is_requeued_or_deleted(
    stack: Stack, client: httpx.Client
) -> None:
    send_bad_chunk(stack)
    wait_for(lambda: counts(client, "import")["dead"] == 1, 30, what="the bad chunk to die")
    [row] = messages(client, "import", "dead")["items"]
    detail = client.get(f"/queues/import/messages/{row['message_id']}").json()
    assert detail["state"] == "dead" and detail["error"] == row_reason(client, row["message_id"])
    assert '"not": "a chunk"' in detail["payload"]
    requeued = client.post(
        "/queues/import/messages/requeue", json={"ids": [row["message_id"], "nope"]}
    ).json()
    assert requeued == {"count": 1, "ids": [row["message_id"]], "skipped": ["nope"]}
    wait_for(lambda: counts(client, "import")["dead"] == 1, 30, what="it to die again")
    [again] = messages(client, "import", "dead")["items"]
    deleted = client.post("/queues/import/messages/delete", json={"ids": [again["message_id"]]}).json()
    assert deleted["count"] == 1 and counts(client, "import")["dead"] == 0


def test_bad_requests(client: httpx.Client, anon: httpx.Client) -> None:
    assert client.get("/queues/nope/messages").status_code == 404
    assert client.get("/queues/fetch/messages", params={"state": "lost"}).status_code == 422
    assert client.post("/queues/fetch/messages/delete", json={"ids": []}).status_code == 422
    assert anon.post("/queues/fetch/messages/delete", json={"ids": ["x"]}).status_code in (401, 403)


def row_reason(client: httpx.Client, message_id: str) -> str:
    [letter] = [d for d in client.get("/queues/import/dead").json()["items"] if d["message_id"] == message_id]
    return str(letter["reason"])


def test_a_retried_out_message_shows_its_whole_traceback(stack: Stack, client: httpx.Client) -> None:
    frames = "".join(
        f'  File "/app/services/importer/step{n}.py", line {n}, in step{n}\n    step{n + 1}()\n'
        for n in range(40)
    )
    message_id = bury_with_traceback(stack, f"Traceback (most recent call last):\n{frames}OSError: disk full")
    detail = client.get(f"/queues/import/messages/{message_id}").json()
    assert detail["traceback"].endswith("OSError: disk full") and "step0.py" in detail["traceback"]
    assert len(detail["traceback"]) > 2000 and detail["error"] == "OSError: disk full"
    assert client.post("/queues/import/messages/delete", json={"ids": [message_id]}).json()["count"] == 1


def bury_with_traceback(stack: Stack, traceback: str) -> str:
    """A dead letter as Dramatiq's Retries leaves one when a message's retries run out: the
    traceback in its options, the message in ``.XQ``/``.XQ.msgs``."""
    keys = Keys(stack.settings.queue_namespace)
    message = dramatiq.Message(
        queue_name="import", actor_name=IMPORT_ACTOR, args=({"not": "a chunk"},), kwargs={},
        options={"traceback": traceback, "retries": 4},
    )  # fmt: skip
    stack.broker.client.zadd(keys.dead("import"), {message.message_id: time.time() * 1000})
    stack.broker.client.hset(keys.dead_messages("import"), message.message_id, message.encode())
    return message.message_id
