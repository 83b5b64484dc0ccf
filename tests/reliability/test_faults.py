"""The fault injectors themselves: a cut link must really refuse, and must come back."""

from __future__ import annotations

import socket

import pytest

from tests.reliability.faults import CuttableLink


def test_a_cut_link_refuses_connections_and_restores_every_time() -> None:
    with socket.create_server(("127.0.0.1", 0)) as target:
        link = CuttableLink("127.0.0.1", target.getsockname()[1]).start()
        try:
            for _ in range(20):
                with socket.create_connection(("127.0.0.1", link.port), timeout=5):
                    target.accept()[0].close()  # the link reached the target
                link.cut()
                with pytest.raises(ConnectionRefusedError):
                    socket.create_connection(("127.0.0.1", link.port), timeout=5).close()
                link.restore()
        finally:
            link.close()
