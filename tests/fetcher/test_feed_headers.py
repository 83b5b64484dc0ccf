"""A feed's request headers: values looked up by name when it is fetched, a missing one failing
the run with a reason (job_importer/feed_secrets.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.feedserver import FeedServer, Reply, Request
from devstack.samplefeeds import jobicy_feed, sample_jobs
from job_importer import history
from job_importer.db import Store
from job_importer.settings import FeedConfig
from services.fetcher.pipeline import FetcherContext, run_fetch
from tests.fetcher.test_pipeline import ctx, new_run  # noqa: F401  (ctx is a fixture)


def test_headers_are_sent_with_values_from_the_secret_dir_and_the_environment(
    ctx: FetcherContext,  # noqa: F811
    store: Store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "board-token").write_text("Bearer s3cret\n")
    monkeypatch.setenv("BOARD_KEY", "k-42")
    seen: list[dict[str, str]] = []

    def route(request: Request) -> Reply:
        seen.append(request.headers)
        return Reply(body=jobicy_feed(sample_jobs(3)))

    ctx.settings = ctx.settings.model_copy(update={"feed_secrets_dir": tmp_path})
    with FeedServer({"/jobs.xml": route}) as server:
        feed = FeedConfig(
            url=server.url("/jobs.xml"), headers={"Authorization": "board-token", "X-Api-Key": "BOARD_KEY"}
        )
        run_id = new_run(store, feed)
        run_fetch(ctx, run_id, feed, last_attempt=False)
    assert [(h["authorization"], h["x-api-key"]) for h in seen] == [("Bearer s3cret", "k-42")]
    run = history.get_run(store, run_id) or {}
    assert (run["status"], run["fetched"]) == ("importing", 3)  # chunks sent: no importer here


def test_a_header_naming_nothing_fails_the_run_without_a_request(
    ctx: FetcherContext,  # noqa: F811
    store: Store,
) -> None:
    with FeedServer({"/jobs.xml": jobicy_feed(sample_jobs(3))}) as server:
        feed = FeedConfig(url=server.url("/jobs.xml"), headers={"Authorization": "NO_SUCH_VARIABLE_13"})
        run_id = new_run(store, feed)
        run_fetch(ctx, run_id, feed, last_attempt=False)
        hits = server.hits["/jobs.xml"]
    run = history.get_run(store, run_id) or {}
    assert run["status"] == "failed" and hits == 0
    assert (
        run["error"] == "request headers: header Authorization: no environment variable NO_SUCH_VARIABLE_13"
    )
