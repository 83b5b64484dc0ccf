"""How often a message is retried is the business of the service that runs it: FETCH_MAX_RETRIES of
the fetcher, IMPORT_MAX_RETRIES of the importer, whatever the process that enqueued it says."""

from __future__ import annotations

from devstack.feedserver import FeedServer, Reply, Request
from job_importer.db import Store
from job_importer.settings import FeedConfig, Settings
from tests.conftest import Workers, run_import


def test_the_fetchers_own_retry_limit_decides(
    settings: Settings, store: Store, broker, workers: Workers, feed_server: FeedServer
) -> None:
    attempts: list[str] = []

    def failing(request: Request) -> Reply:
        attempts.append(request.path)
        return Reply(status=503, body=b"down", content_type="text/plain")

    feed_server.routes["/down.xml"] = failing
    workers.start("fetcher", fetch_max_retries=2)
    workers.wait_ready("fetcher")
    enqueuer = settings.model_copy(update={"fetch_max_retries": 0})  # e.g. an API with other settings

    [run] = run_import(enqueuer, store, broker, [FeedConfig(url=feed_server.url("/down.xml"))])

    assert run["status"] == "failed" and run["http_status"] == 503
    assert len(attempts) == 3  # the first attempt and the fetcher's 2 retries
