"""The SSRF guard on feed URLs supplied through the API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.samplefeeds import sample_jobs
from tests.api.helpers import serve, wait_finished
from tests.api_server import ApiServer, Stack


@pytest.fixture(scope="module")
def strict(stack: Stack) -> Iterator[ApiServer]:
    """The API as deployed: private feed addresses refused."""
    server = ApiServer(stack.settings.model_copy(update={"api_allow_private_feeds": False}), "strict")
    yield server
    server.stop()


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("localhost", "loopback"),
        ("[::1]", "loopback"),
        ("[::ffff:127.0.0.1]", "loopback"),  # IPv4-mapped IPv6
        ("0.0.0.0", "unspecified"),
        ("[::]", "unspecified"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("10.0.0.7", "private"),
        ("172.16.3.4", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "non-public"),
        ("224.0.0.1", "multicast"),
        ("2130706433", "loopback"),  # 127.0.0.1 written as one number
    ],
)
def test_feeds_on_private_addresses_are_refused(
    stack: Stack, strict: ApiServer, host: str, kind: str
) -> None:
    url = serve(stack, sample_jobs(2, start=4000)).replace("127.0.0.1", host)
    path = url.split("/", 3)[3]
    before = stack.store.runs.count_documents({})
    with strict.client(stack.token) as client:
        response = client.post("/imports/start", json={"feeds": [url]})
    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "feeds", 0]
    assert f"{kind} address" in problem["msg"] and "API_ALLOW_PRIVATE_FEEDS" in problem["msg"]
    assert stack.store.runs.count_documents({}) == before
    assert stack.feeds.hits[f"/{path}"] == 0


def test_one_refused_feed_refuses_the_whole_request(stack: Stack, strict: ApiServer) -> None:
    configured = stack.settings.feeds[0]
    with strict.client(stack.token) as client:
        response = client.post("/imports/start", json={"feeds": [configured, "http://10.1.1.1/feed.xml"]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "feeds", 1]


def test_configured_feeds_are_trusted_even_on_loopback(stack: Stack, strict: ApiServer) -> None:
    with strict.client(stack.token) as client:
        response = client.post("/imports/start", json={"feeds": [stack.settings.feeds[1]]})
        assert response.status_code == 202
        run = wait_finished(client, response.json()["run_ids"][0])
    assert run["status"] == "completed" and run["fetched"] == 30


def test_unresolvable_hosts_are_refused(stack: Stack, strict: ApiServer) -> None:
    with strict.client(stack.token) as client:
        response = client.post("/imports/start", json={"feeds": ["http://no-such-host.invalid/feed.xml"]})
    assert response.status_code == 422
    assert "cannot resolve host 'no-such-host.invalid'" in response.json()["detail"][0]["msg"]
