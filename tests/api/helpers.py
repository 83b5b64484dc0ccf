"""Small steps the API tests share: serve a feed, start an import through the API, wait for it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from devstack.samplefeeds import SampleJob, jobicy_feed
from tests.api_server import Stack
from tests.conftest import wait_for


def serve(stack: Stack, jobs: list[SampleJob]) -> str:
    """A new feed URL on the stack's feed server with these jobs."""
    path = f"/{uuid.uuid4().hex[:8]}.xml"
    stack.feeds.routes[path] = jobicy_feed(jobs)
    return stack.feeds.url(path)


def start(client: httpx.Client, *urls: str) -> list[str]:
    response = client.post("/imports/start", json={"feeds": list(urls)})
    assert response.status_code == 202, response.text
    return list(response.json()["run_ids"])


def wait_finished(client: httpx.Client, run_id: str, timeout: float = 60) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        run = client.get(f"/imports/{run_id}").json()
        return run if run["status"] in ("completed", "failed") else None

    result: dict[str, Any] = wait_for(finished, timeout, interval=0.1, what=f"run {run_id} to finish")
    return result


def scrape(url: str) -> str:
    """One Prometheus scrape of a metrics endpoint, as text."""
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text
