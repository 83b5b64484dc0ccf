"""Downloading from a real loopback HTTP server: caps, deadlines, redirects, validators."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import pytest

from devstack.feedserver import FeedServer, Reply, Request
from job_importer.settings import Settings
from services.fetcher.download import FetchError, Validators, download, make_client, parse_retry_after

BODY = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


@pytest.fixture
def client() -> Iterator[object]:
    settings = Settings(fetch_connect_timeout_s=2, fetch_read_timeout_s=2, fetch_max_redirects=3)
    with make_client(settings) as http:
        yield http


def get(
    client: object,
    url: str,
    *,
    max_bytes: int = 1_000_000,
    total: float = 5.0,
    validators: Validators | None = None,
):
    return download(
        client, url, validators=validators or Validators(), max_bytes=max_bytes, total_timeout_s=total
    )  # type: ignore[arg-type]


def test_etag_round_trip_gives_not_modified(client) -> None:
    with FeedServer({"/f.xml": BODY}, validators=True) as server:
        first = get(client, server.url("/f.xml"))
        assert first.status == 200 and first.body == BODY and first.validators.etag
        second = get(client, server.url("/f.xml"), validators=first.validators)
        assert second.not_modified and second.body == b""


def test_429_is_transient_and_carries_retry_after(client) -> None:
    route = lambda r: Reply(status=429, headers={"Retry-After": "7"})  # noqa: E731
    with FeedServer({"/f.xml": route}) as server, pytest.raises(FetchError) as caught:
        get(client, server.url("/f.xml"))
    assert caught.value.transient and caught.value.http_status == 429 and caught.value.retry_after_s == 7


def test_404_is_permanent(client) -> None:
    with FeedServer({}) as server, pytest.raises(FetchError) as caught:
        get(client, server.url("/missing.xml"))
    assert not caught.value.transient and caught.value.http_status == 404 and "404" in caught.value.reason


def test_500_is_transient(client) -> None:
    with (
        FeedServer({"/f.xml": lambda r: Reply(status=500, body=b"boom")}) as server,
        pytest.raises(FetchError) as caught,
    ):
        get(client, server.url("/f.xml"))
    assert caught.value.transient and caught.value.kind == "http"


def test_declared_oversize_is_refused_before_reading(client) -> None:
    with FeedServer({"/big.xml": b"x" * 50_000}) as server, pytest.raises(FetchError) as caught:
        get(client, server.url("/big.xml"), max_bytes=10_000)
    assert caught.value.kind == "too_large" and "50,000" in caught.value.reason


def test_endless_body_is_cut_at_the_cap(client) -> None:
    sent: list[int] = []

    def endless(request: Request) -> Reply:
        def parts() -> Iterator[bytes]:
            for n in itertools.count():
                sent.append(n)
                yield b"x" * 65536

        return Reply(body=parts())

    with FeedServer({"/endless.xml": endless}) as server, pytest.raises(FetchError) as caught:
        get(client, server.url("/endless.xml"), max_bytes=1_000_000)
    assert caught.value.kind == "too_large"
    # The server stops once the client hangs up: far less than 1 GB was produced.
    assert len(sent) * 65536 < 64 * 1_000_000


def test_slow_drip_hits_the_total_deadline(client) -> None:
    drip = Reply(body=iter([b"<rss>"] + [b" "] * 1000), chunk_delay_s=0.2)
    with FeedServer({"/slow.xml": lambda r: drip}) as server:
        started = time.monotonic()
        with pytest.raises(FetchError) as caught:
            get(client, server.url("/slow.xml"), total=1.0)
    assert caught.value.kind == "timeout" and caught.value.transient
    assert time.monotonic() - started < 10


def test_redirect_loop_is_stopped(client) -> None:
    routes = {
        "/a": lambda r: Reply(status=302, headers={"Location": "/b"}),
        "/b": lambda r: Reply(status=302, headers={"Location": "/a"}),
    }
    with FeedServer(routes) as server, pytest.raises(FetchError) as caught:  # type: ignore[arg-type]
        get(client, server.url("/a"))
    assert caught.value.kind == "redirects" and not caught.value.transient


def test_connection_refused_is_transient(client) -> None:
    with FeedServer({}) as server:
        url = server.url("/gone.xml")
    with pytest.raises(FetchError) as caught:
        get(client, url)
    assert caught.value.kind == "connect" and caught.value.transient


def test_retry_after_formats() -> None:
    assert parse_retry_after("120") == 120
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    in_the_past = parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT")
    assert in_the_past == 0
