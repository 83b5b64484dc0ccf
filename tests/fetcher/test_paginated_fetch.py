"""A paginated API source through the fetcher's pipeline (real Redis, MongoDB stand-in, loopback
HTTP): every page is read, and a page that fails is a fetch failure like a feed's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.feedserver import FeedServer, Reply, Request
from job_importer.pending import PendingItems
from job_importer.settings import FeedConfig, Settings
from services.fetcher.download import make_client
from services.fetcher.pipeline import FetcherContext, fetch

FORMATS = Path(__file__).resolve().parent.parent / "fixtures" / "formats"
PAGE_1 = "/sr/postings?limit=2"
PAGE_2 = "/sr/postings?limit=2&offset=2"


@pytest.fixture
def ctx(settings: Settings, store, broker) -> Iterator[FetcherContext]:
    http = make_client(settings)
    yield FetcherContext(
        settings=settings,
        store=store,
        broker=broker,
        pending=PendingItems(
            broker.client, settings.queue_namespace, settings.import_queue, settings.dedupe_ttl_s
        ),
        http=http,
        guarded_http=http,
    )
    http.close()


def json_reply(name: str):
    data = (FORMATS / name).read_bytes()
    return lambda request: Reply(body=data, content_type="application/json")


def test_every_page_is_read_and_sent(ctx: FetcherContext) -> None:
    routes = {
        PAGE_1: json_reply("smartrecruiters_page1.json"),
        PAGE_2: json_reply("smartrecruiters_page2.json"),
    }
    with FeedServer(routes) as server:  # type: ignore[arg-type]
        feed = FeedConfig(url=server.url(PAGE_1), source="sr", format="smartrecruiters")
        outcome = fetch(ctx, "run-1", 1, feed, last_attempt=True)
    assert (outcome.result, outcome.fetched, outcome.failures, outcome.chunks) == ("ok", 3, [], 1)
    assert server.hits == {PAGE_1: 1, PAGE_2: 1}


@pytest.mark.parametrize("last_attempt", [False, True])
def test_a_failing_page_is_a_fetch_failure(ctx: FetcherContext, last_attempt: bool) -> None:
    def broken(request: Request) -> Reply:
        return Reply(status=503, body=b"busy", content_type="text/plain")

    with FeedServer({PAGE_1: json_reply("smartrecruiters_page1.json"), PAGE_2: broken}) as server:  # type: ignore[dict-item]
        feed = FeedConfig(url=server.url(PAGE_1), source="sr", format="smartrecruiters")
        outcome = fetch(ctx, "run-1", 1, feed, last_attempt=last_attempt)
    assert outcome.chunks == 0  # nothing of a half-read source is sent
    if last_attempt:
        assert outcome.retry is None and outcome.error == "HTTP 503 Service Unavailable"
    else:
        assert outcome.retry is not None and outcome.error is None
