"""The browser-facing defences: security headers on every response, the UI's Content-Security-Policy,
and only the allowed Host names answered (a rebound DNS name reaching 127.0.0.1 is refused)."""

from __future__ import annotations

import httpx
import pytest

from services.api.hardening import allowed_hosts, host_name
from tests.api_server import Stack


def test_the_ui_gets_a_content_security_policy_and_every_response_the_common_headers(
    anon: httpx.Client,
) -> None:
    ui = anon.get("/ui/")
    policy = ui.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    for response in (ui, anon.get("/feeds"), anon.get("/ui/app.js"), anon.get("/nowhere")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


@pytest.mark.parametrize(
    "host", ["rebind.attacker.example", "rebind.attacker.example:8000", "127.0.0.1.nip.io"]
)
def test_a_host_name_that_is_not_allowed_is_refused(stack: Stack, anon: httpx.Client, host: str) -> None:
    answer = anon.get("/feeds", headers={"Host": host})
    assert answer.status_code == 400
    assert "API_ALLOWED_HOSTS" in answer.json()["detail"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    # Probes come by the pod's IP address: they are answered whatever the name.
    assert anon.get("/healthz", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "LOCALHOST.", "[::1]"])
def test_the_loopback_names_are_answered(stack: Stack, anon: httpx.Client, name: str) -> None:
    assert anon.get("/feeds", headers={"Host": f"{name}:{stack.api.port}"}).status_code == 200


def test_the_allow_list_follows_the_settings() -> None:
    assert allowed_hosts([], "127.0.0.1") == {"localhost", "127.0.0.1", "::1"}
    assert allowed_hosts([], "0.0.0.0") == {"*"}  # reachable directly there anyway: name them
    assert allowed_hosts(["Jobs.Example.com", " "], "127.0.0.1") == {"jobs.example.com"}
    assert [host_name(h) for h in ("a.example:80", "[::1]:8000", "::1", "b.example.", "")] == [
        "a.example",
        "::1",
        "::1",
        "b.example",
        "",
    ]
