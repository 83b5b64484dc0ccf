"""One running stack (workers, API, feed server) for all API tests; each test uses its own feeds.

Tests here leave the shared state as they found it: queues resumed, no dead letters left behind.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from devstack.feedserver import FeedServer
from devstack.samplefeeds import jobicy_feed, sample_jobs
from tests.api_server import Stack, running_stack
from tests.conftest import free_port, make_settings

CONFIGURED = ("/configured-a.xml", "/configured-b.xml")


@pytest.fixture(scope="package")
def stack(redis_url: str, mongodb_url: str) -> Iterator[Stack]:
    with FeedServer() as feeds:
        for number, path in enumerate(CONFIGURED):
            feeds.routes[path] = jobicy_feed(sample_jobs(30, start=90_000 + 1000 * number, seed=number))
        settings = make_settings(
            redis_url,
            mongodb_url,
            feeds=[feeds.url(path) for path in CONFIGURED],
            api_token=f"token-{uuid.uuid4().hex}",
            api_allow_private_feeds=True,  # the feed server is on loopback
            metrics_enabled=True,
            fetcher_metrics_port=free_port(),
            importer_metrics_port=free_port(),
            # Chunks of 20 items, at most one write per 150 ms: imports take long enough to watch.
            worker_batch_size=20,
            worker_flush_ms=0,
            worker_rate_limit_max=1,
            worker_rate_limit_duration_ms=150,
        )
        with running_stack(settings, feeds) as running:
            yield running


@pytest.fixture
def anon(stack: Stack) -> Iterator[httpx.Client]:
    """A client without a token."""
    with stack.api.client() as client:
        yield client


@pytest.fixture
def client(stack: Stack) -> Iterator[httpx.Client]:
    """A client with the right token."""
    with stack.api.client(stack.token) as client:
        yield client
