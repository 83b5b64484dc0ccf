"""Fixtures of the CLI tests."""

from __future__ import annotations

from typing import Any

import pytest

from job_importer.settings import Settings
from tests.cli.helpers import seed


@pytest.fixture
def seeded(settings: Settings, store, redis_client) -> dict[str, Any]:
    """Two runs (one failed), a failed item and two dead letters, with long values."""
    return seed(settings, store, redis_client)
