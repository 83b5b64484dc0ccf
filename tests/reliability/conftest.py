"""Fixtures of the fault-injection suite, on top of tests/conftest.py's real services."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pymongo.uri_parser import parse_uri

from job_importer.settings import Settings
from tests.reliability.faults import CuttableLink


@pytest.fixture
def mongo_link(mongodb_url: str) -> Iterator[CuttableLink]:
    """A cuttable TCP link in front of the test MongoDB (the stand-in, or MONGODB_URL)."""
    host, port = parse_uri(mongodb_url)["nodelist"][0]
    link = CuttableLink(host, port).start()
    yield link
    link.close()


@pytest.fixture
def fast_settings(settings: Settings) -> Settings:
    """Small chunks (many messages in flight) and quick redelivery, for the crash scenarios."""
    return settings.model_copy(update={"worker_batch_size": 20, "heartbeat_timeout_ms": 3000})
