"""Probes, the OpenAPI document and the UI's files."""

from __future__ import annotations

import httpx

from tests.api_server import ApiServer, Stack
from tests.conftest import free_port


def test_healthz_and_readyz(anon: httpx.Client) -> None:
    assert anon.get("/healthz").json() == {"status": "ok", "checks": {}}
    assert anon.get("/readyz").json() == {"status": "ok", "checks": {"redis": "ok", "mongodb": "ok"}}


def test_readyz_is_503_when_redis_is_away(stack: Stack) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    server = ApiServer(stack.settings.model_copy(update={"redis_url": nowhere}), "no-redis")
    try:
        with server.client() as client:
            assert client.get("/healthz").status_code == 200  # alive, but not ready
            response = client.get("/readyz")
            assert response.status_code == 503
            body = response.json()
            assert body["status"] == "unavailable" and body["checks"]["mongodb"] == "ok"
            assert body["checks"]["redis"].startswith("unavailable: ")
            queues = client.get("/queues")
            assert queues.status_code == 503 and queues.json()["detail"].startswith("Redis is unavailable")
    finally:
        server.stop()


def test_readyz_stays_ready_without_mongodb_and_the_redis_pages_serve(stack: Stack) -> None:
    nowhere = f"mongodb://127.0.0.1:{free_port()}/?directConnection=true"
    settings = stack.settings.model_copy(update={"mongodb_url": nowhere, "mongodb_timeout_ms": 300})
    server = ApiServer(settings, "no-mongodb")
    try:
        with server.client() as client:
            response = client.get("/readyz")
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["status"] == "degraded" and body["checks"]["redis"] == "ok"
            assert body["checks"]["mongodb"].startswith("unavailable: ")
            assert client.get("/queues").status_code == 200  # what stays useful in the outage
            assert client.get("/queues/import/messages", params={"state": "dead"}).status_code == 200
            assert client.get("/imports").status_code == 503
    finally:
        server.stop()


def test_the_openapi_document_describes_the_endpoints(anon: httpx.Client) -> None:
    spec = anon.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/imports/start", "/imports", "/imports/{run_id}", "/imports/stream", "/jobs", "/jobs/{job_id}",
                 "/queues", "/queues/{queue}/pause", "/queues/{queue}/dead/{message_id}/requeue",
                 "/failed-items/{item_id}/requeue", "/healthz", "/readyz", "/metrics"):  # fmt: skip
        assert path in paths, path
    start = paths["/imports/start"]["post"]
    assert start["responses"]["202"]["content"]["application/json"]["schema"]["$ref"].endswith("/Started")
    assert {"401", "403", "422"} <= set(start["responses"])
    assert start["security"] == [{"HTTPBearer": []}]
    run_props = spec["components"]["schemas"]["Run"]["properties"]
    assert {"fetched", "new", "updated", "unchanged", "duplicates", "failed", "duration_ms"} <= set(run_props)
    assert "text/event-stream" in paths["/imports/stream"]["get"]["responses"]["200"]["content"]
    assert anon.get("/docs").status_code == 200


def test_the_ui_is_served(anon: httpx.Client) -> None:
    root = anon.get("/", follow_redirects=False)
    assert root.status_code == 307 and root.headers["location"] == "/ui/"
    page = anon.get("/ui/")
    assert page.status_code == 200 and 'src="app.js"' in page.text
    assert anon.get("/ui/app.js").headers["content-type"].startswith("text/javascript")
