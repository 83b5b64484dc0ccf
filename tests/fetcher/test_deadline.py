"""The total deadline reaches every transport of the fetcher's clients, the SSRF guard's included."""

from __future__ import annotations

import httpcore
import pytest

from job_importer.netguard import PublicOnlyBackend, guarded_transport
from job_importer.settings import Settings
from services.fetcher import deadline
from services.fetcher.download import make_client


def backends(client: object) -> list[object]:
    transports = [client._transport, *client._mounts.values()]  # type: ignore[attr-defined]
    return [transport._pool._network_backend for transport in transports if transport is not None]


def test_every_transport_is_under_the_deadline() -> None:
    settings = Settings()
    with make_client(settings) as plain, make_client(settings, transport=guarded_transport()) as guarded:
        assert all(isinstance(backend, deadline.DeadlineBackend) for backend in backends(plain))
        [guard] = backends(guarded)
        assert isinstance(guard, deadline.DeadlineBackend)
        assert isinstance(guard._backend, PublicOnlyBackend)  # still checks every address


def test_an_operation_after_the_deadline_fails_as_a_timeout() -> None:
    with deadline.within(0), pytest.raises(httpcore.ConnectTimeout):
        deadline.DeadlineBackend(httpcore.SyncBackend()).connect_tcp("127.0.0.1", 9, timeout=5)
    assert deadline._left(5.0, httpcore.ReadTimeout) == 5.0  # outside a download: httpx's own timeouts
