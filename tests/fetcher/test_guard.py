"""The SSRF guard at fetch time: runs started through the API check every address they reach."""

from __future__ import annotations

import pytest

from job_importer.feedserver import FeedServer, Reply
from job_importer.netguard import request_guard
from job_importer.samplefeeds import jobicy_feed, sample_jobs
from job_importer.settings import FeedConfig, Settings
from services.fetcher.download import FetchError, Validators, download, make_client
from services.fetcher.trigger import start_import
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
