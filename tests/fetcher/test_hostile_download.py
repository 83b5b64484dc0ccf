"""Hostile responses at the download: a gigabyte is refused or cut at the cap within bounded memory,
never read whole."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from devstack.feedserver import FeedServer, Reply, Request
from job_importer.settings import Settings
from services.fetcher.download import FetchError, Validators, download, make_client
from tests.fetcher.hostile import bounded, gzip_of_a_gigabyte, nested_gzip_bomb

CAP = 10 * 1024**2
GIB = 1024**3


@pytest.fixture
def client() -> Iterator[object]:
    with make_client(Settings(fetch_connect_timeout_s=2, fetch_read_timeout_s=5)) as http:
        yield http


def fetch(client: object, url: str) -> FetchError:
    with pytest.raises(FetchError) as caught:
        download(client, url, validators=Validators(), max_bytes=CAP, total_timeout_s=30)  # type: ignore[arg-type]
    return caught.value


def test_a_streamed_gigabyte_is_cut_at_the_cap(client) -> None:
    sent: list[int] = []

    def gigabyte(request: Request) -> Reply:
        def parts() -> Iterator[bytes]:
            for part in itertools.repeat(b"<item>" + b"x" * 65530, GIB // 65536):
                sent.append(len(part))
                yield part

        return Reply(body=parts())

    with FeedServer({"/big.xml": gigabyte}) as server, bounded(seconds=30, megabytes=4 * CAP / 1e6):
        error = fetch(client, server.url("/big.xml"))
    assert error.kind == "too_large" and not error.transient
    assert sum(sent) < CAP + 8 * 1024**2  # the server stopped soon after the client hung up


def test_a_declared_gigabyte_is_refused_before_reading(client) -> None:
    def declared(request: Request) -> Reply:
        return Reply(body=iter([b"<rss>"]), headers={"Content-Length": str(GIB)})

    with FeedServer({"/big.xml": declared}) as server:
        error = fetch(client, server.url("/big.xml"))
    assert error.kind == "too_large" and "1,073,741,824" in error.reason


def test_a_gzip_bomb_is_cut_at_the_cap_after_decompression(client) -> None:
    bomb = gzip_of_a_gigabyte()
    route = lambda request: Reply(body=iter([bomb]), headers={"Content-Encoding": "gzip"})  # noqa: E731
    with FeedServer({"/bomb.xml": route}) as server, bounded(seconds=30, megabytes=300):
        error = fetch(client, server.url("/bomb.xml"))
    assert error.kind == "too_large" and len(bomb) < CAP  # small on the wire, over the cap unpacked


def test_a_nested_gzip_bomb_is_cut_at_the_cap_within_bounded_memory(client) -> None:
    # httpx undid each layer of `gzip, gzip` in one call: the outer one made a megabyte of the few
    # KB on the wire, the inner one made that a single 256 MB part before the cap counted it (1 GB
    # in the sample).
    bomb = nested_gzip_bomb(256)
    route = lambda request: Reply(body=iter([bomb]), headers={"Content-Encoding": "gzip, gzip"})  # noqa: E731
    with FeedServer({"/bomb.xml": route}) as server, bounded(seconds=30, megabytes=4 * CAP / 1e6) as usage:
        error = fetch(client, server.url("/bomb.xml"))
    assert error.kind == "too_large" and len(bomb) < 16 * 1024, (error, len(bomb), usage)


def test_a_body_that_does_not_match_its_encoding_is_a_clear_error(client) -> None:
    route = lambda request: Reply(body=b"not gzip at all", headers={"Content-Encoding": "gzip"})  # noqa: E731
    with FeedServer({"/f.xml": route}) as server:
        error = fetch(client, server.url("/f.xml"))
    assert error.kind == "other" and not error.transient and "undecodable" in error.reason


def test_an_invalid_url_is_a_clear_error(client) -> None:
    error = fetch(client, "http://user:pass@[::1/feed.xml")
    assert error.kind == "invalid_url" and not error.transient
