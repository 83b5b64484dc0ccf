"""The SSRF guard at fetch time: runs started through the API check every address they reach."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest

from devstack.feedserver import FeedServer, Reply
from devstack.samplefeeds import jobicy_feed, sample_jobs
from job_importer.netguard import guarded_transport, request_guard
from job_importer.settings import FeedConfig, Settings
from job_importer.trigger import start_import
from services.fetcher.download import FetchError, Validators, download, make_client
from tests.conftest import Workers, wait_for_runs


def _download(settings: Settings, url: str, *, allow_private: bool) -> int:
    client = make_client(settings, url_guard=request_guard(allow_private=allow_private))
    with client:
        return download(client, url, validators=Validators(), max_bytes=10**6, total_timeout_s=5).status


def test_the_request_hook_blocks_before_connecting(settings: Settings, feed_server: FeedServer) -> None:
    feed_server.routes["/feed.xml"] = jobicy_feed(sample_jobs(2))
    with pytest.raises(FetchError) as raised:
        _download(settings, feed_server.url("/feed.xml"), allow_private=False)
    assert raised.value.kind == "blocked" and not raised.value.transient
    assert "loopback address 127.0.0.1" in raised.value.reason
    assert feed_server.hits["/feed.xml"] == 0
    assert _download(settings, feed_server.url("/feed.xml"), allow_private=True) == 200


def test_the_transport_blocks_at_connect_time(settings: Settings, feed_server: FeedServer) -> None:
    feed_server.routes["/feed.xml"] = jobicy_feed(sample_jobs(2))
    client = make_client(settings, transport=guarded_transport())  # no request hook at all
    with client, pytest.raises(FetchError) as raised:
        download(
            client,
            feed_server.url("/feed.xml"),
            validators=Validators(),
            max_bytes=10**6,
            total_timeout_s=5,
        )
    assert raised.value.kind == "blocked" and "loopback address 127.0.0.1" in raised.value.reason
    assert feed_server.hits["/feed.xml"] == 0


class RebindingDNS:
    """A name server for one host whose answer changes after the first lookup (DNS rebinding):
    first a public address, then loopback, where the feed server listens."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.lookups = 0
        self.real = socket.getaddrinfo

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != self.host:
            return self.real(host, port, *args, **kwargs)
        self.lookups += 1
        address = "93.184.215.14" if self.lookups == 1 else "127.0.0.1"
        return self.real(address, port, *args, **kwargs)


@pytest.mark.parametrize("connect_guard", [True, False], ids=["guarded transport", "hook only"])
def test_a_dns_answer_that_changes_after_the_check_cannot_reach_loopback(
    settings: Settings, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch, connect_guard: bool
) -> None:
    feed_server.routes["/feed.xml"] = jobicy_feed(sample_jobs(2))
    dns = RebindingDNS("feeds.rebind.test")
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    url = feed_server.url("/feed.xml").replace("127.0.0.1", dns.host)
    client = make_client(
        settings,
        url_guard=request_guard(allow_private=False),
        transport=guarded_transport() if connect_guard else httpx.HTTPTransport(),
    )
    with client:
        try:
            download(client, url, validators=Validators(), max_bytes=10**6, total_timeout_s=5)
        except FetchError as exc:
            assert exc.kind == "blocked" and "loopback address 127.0.0.1" in exc.reason
    assert dns.lookups == 2  # the hook's check, then the connection's
    # With the connect-time check, the rebound answer is caught; the hook alone lets it through.
    assert feed_server.hits["/feed.xml"] == (0 if connect_guard else 1)


def test_the_hook_sees_redirects(settings: Settings, feed_server: FeedServer) -> None:
    seen: list[str] = []
    feed_server.routes["/moved"] = lambda request: Reply(
        status=302, headers={"Location": feed_server.url("/feed.xml")}
    )
    feed_server.routes["/feed.xml"] = jobicy_feed(sample_jobs(2))
    client = make_client(settings, url_guard=lambda request: seen.append(request.url.path))
    with client:
        download(
            client, feed_server.url("/moved"), validators=Validators(), max_bytes=10**6, total_timeout_s=5
        )
    assert seen == ["/moved", "/feed.xml"]


def test_guarded_runs_fail_on_private_addresses_and_others_do_not(
    settings, store, broker, workers: Workers, feed_server: FeedServer
) -> None:
    feed_server.routes["/feed.xml"] = jobicy_feed(sample_jobs(5))
    feed = FeedConfig(url=feed_server.url("/feed.xml"))
    workers.start_both()  # API_ALLOW_PRIVATE_FEEDS is off in these settings
    guarded = start_import(settings, store, broker, [feed], "api", guarded={feed.url})
    [run] = wait_for_runs(store, guarded.run_ids, 30)
    assert run["status"] == "failed"
    assert run["error"].startswith("blocked: host '127.0.0.1' resolves to a loopback address")
    assert feed_server.hits["/feed.xml"] == 0
    trusted = start_import(settings, store, broker, [feed], "cli")
    [run] = wait_for_runs(store, trusted.run_ids, 30)
    assert (run["status"], run["new"]) == ("completed", 5)
