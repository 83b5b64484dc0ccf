"""One chunk through the importer's pipeline, against real Redis and MongoDB."""

from __future__ import annotations

from typing import Any

import pytest

from job_importer import history
from job_importer.contract import JobItem, content_hash
from job_importer.pending import PendingItems
from job_importer.settings import FeedConfig
from services.importer import pipeline
from services.importer.pipeline import ImporterContext, import_chunk_payload
from services.importer.ratelimit import RateLimiter


def item(number: int) -> JobItem:
    fields = {"title": f"Engineer {number}", "company": "Acme"}
    return JobItem(
        id=f"src#{number}", source="src", guid=str(number), content_hash=content_hash(fields), **fields
    )


class WorkerKilled(BaseException):
    """Stands for the worker dying at that line (kill -9): nothing after it runs."""


def test_a_chunk_whose_accounting_dies_has_released_its_items(
    settings, store, redis_client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The run completes when its last chunk is accounted. If the items were released only after
    # that, a worker dying in between would leave them "waiting in the queue" until the chunk is
    # redelivered, and a next run starting at once would count them as duplicates.
    pending = PendingItems(
        redis_client, settings.queue_namespace, settings.import_queue, settings.dedupe_ttl_s
    )
    ctx = ImporterContext(
        settings=settings, store=store, pending=pending, limiter=RateLimiter(redis_client, "unused", 0, 1000)
    )
    [run_id] = history.create_runs(store, [FeedConfig(url="http://f/feed", source="src")], "cli", "b")
    attempt = (history.start_fetch(store, run_id) or {})["fetch_attempts"]
    items = [item(n) for n in range(5)]
    assert pending.claim(items, run_id) == [False] * 5
    history.finish_fetch(
        store, run_id, http_status=200, fetched=5, duplicates=0, failures=[], chunks_total=1,
        failures_cap=100, attempt=attempt,
    )  # fmt: skip
    payload: dict[str, Any] = {
        "run_id": run_id,
        "attempt": attempt,
        "seq": 0,
        "feed_url": "http://f/feed",
        "fetched_at": history.now().isoformat(),
        "items": [data.model_dump(mode="json") for data in items],
    }

    def killed(*args: Any, **kwargs: Any) -> bool:
        raise WorkerKilled

    monkeypatch.setattr(pipeline.history, "record_chunk", killed)
    with pytest.raises(WorkerKilled):
        import_chunk_payload(ctx, payload)
    assert redis_client.hlen(pending.key) == 0
    assert store.jobs.count_documents({"source": "src"}) == 5

    monkeypatch.undo()  # the redelivered chunk completes the run, counted once
    import_chunk_payload(ctx, payload)
    run = history.get_run(store, run_id) or {}
    assert (run["status"], run["new"], run["fetched"]) == ("completed", 5, 5)
