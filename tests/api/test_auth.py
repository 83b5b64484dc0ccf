"""The token: mutating endpoints always need it, read endpoints when API_READ_AUTH is on."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.api_server import ApiServer, Stack

MUTATING = [
    ("POST", "/imports/start"),
    ("POST", "/queues/import/pause"),
    ("POST", "/queues/import/resume"),
    ("POST", "/queues/import/dead/requeue"),
    ("POST", "/queues/import/dead/1234/requeue"),
    ("DELETE", "/queues/import/dead"),
    ("DELETE", "/queues/import/dead/1234"),
    ("POST", "/failed-items/requeue"),
    ("POST", "/failed-items/run:entry-1/requeue"),
    ("DELETE", "/failed-items"),
    ("DELETE", "/failed-items/run:entry-1"),
    ("POST", "/feeds"),
    ("PATCH", "/feeds/feed-1234"),
    ("POST", "/feeds/feed-1234/enable"),
    ("POST", "/feeds/feed-1234/disable"),
    ("DELETE", "/feeds/feed-1234"),
]
READS = [
    "/feeds",
    "/feeds/feed-1234",
    "/imports",
    "/imports/20260101T000000-00000000",
    "/jobs",
    "/jobs/x#1",
    "/queues",
    "/queues/import/dead",
    "/failed-items",
]
OPEN = ["/healthz", "/readyz", "/metrics", "/ui/", "/openapi.json"]


@pytest.mark.parametrize(("method", "path"), MUTATING)
def test_mutating_endpoints_refuse_a_missing_or_wrong_token(stack: Stack, method: str, path: str) -> None:
    with stack.api.client() as anon, stack.api.client("not-the-token") as wrong:
        missing = anon.request(method, path)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == "Bearer"
        assert "Authorization: Bearer" in missing.json()["detail"]
        invalid = wrong.request(method, path)
        assert invalid.status_code == 401
        assert invalid.json() == {"detail": "invalid token"}


def test_the_right_token_is_accepted(stack: Stack, client: httpx.Client) -> None:
    assert client.post("/queues/fetch/pause").status_code == 200
    assert client.post("/queues/fetch/resume").json()[0]["paused"] is False
    assert client.delete("/queues/fetch/dead/no-such-id").status_code == 404  # past the token check


@pytest.mark.parametrize("path", READS + OPEN)
def test_reads_are_open_by_default(anon: httpx.Client, path: str) -> None:
    assert anon.get(path).status_code in (200, 404)  # 404: the unknown run and job


@pytest.fixture(scope="module")
def read_protected(stack: Stack) -> Iterator[ApiServer]:
    server = ApiServer(stack.settings.model_copy(update={"api_read_auth": True}), "read-auth")
    yield server
    server.stop()


@pytest.mark.parametrize("path", [*READS, "/imports/stream"])
def test_with_read_auth_reads_need_the_token_too(stack: Stack, read_protected: ApiServer, path: str) -> None:
    with read_protected.client() as anon, read_protected.client(stack.token) as client:
        assert anon.get(path).status_code == 401
        if path != "/imports/stream":  # an endless stream: its refusal is what matters here
            assert client.get(path).status_code in (200, 404)


@pytest.mark.parametrize("path", OPEN)
def test_with_read_auth_probes_metrics_and_the_ui_stay_open(read_protected: ApiServer, path: str) -> None:
    with read_protected.client() as anon:
        assert anon.get(path).status_code == 200


def test_without_a_configured_token_mutations_are_disabled(stack: Stack) -> None:
    server = ApiServer(stack.settings.model_copy(update={"api_token": None}), "no-token")
    try:
        with server.client("anything") as client:
            response = client.post("/imports/start")
            assert response.status_code == 403
            assert "API_TOKEN is not set" in response.json()["detail"]
            assert client.get("/imports").status_code == 200
    finally:
        server.stop()
