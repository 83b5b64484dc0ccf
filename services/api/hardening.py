"""The browser-facing defences of the API: which Host names it answers, and the security headers.

* **Host allow-list.** The API's read endpoints are open by default and it listens on 127.0.0.1:
  a web page can point a name it controls at 127.0.0.1 (DNS rebinding) and read the API from the
  victim's browser, same-origin. Such a request carries that name in ``Host``, so only the names
  of ``API_ALLOWED_HOSTS`` are answered (by default, when the API listens on loopback: its own
  address, ``localhost``, ``127.0.0.1`` and ``::1``; on any other address, every name, since the
  API is reachable directly there anyway: set the names it is published under). ``/healthz`` and
  ``/readyz`` answer any name: Kubernetes probes a pod by its IP address.
* **Headers.** Every response: ``X-Content-Type-Options: nosniff``, ``Referrer-Policy:
  no-referrer`` and ``frame-ancestors 'none'`` (no framing, no clickjacking). The admin UI's pages
  also get a Content-Security-Policy that admits only its own scripts, styles and API calls: the UI
  shows text from feeds, and whatever markup got through would have nothing to run.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
ANY_HOST = "*"
#: Paths every Host may reach: what probes ask, by the pod's IP address.
PROBES = frozenset({"/healthz", "/readyz"})
UI_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
API_POLICY = "frame-ancestors 'none'"
COMMON = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]


def allowed_hosts(configured: Iterable[str], listen_host: str) -> frozenset[str]:
    """The Host names to answer: the configured ones, else loopback names for a loopback API."""
    names = {_normal(name) for name in configured if name.strip()}
    if names:
        return frozenset(names)
    if _normal(listen_host) in LOOPBACK_NAMES or _normal(listen_host).startswith("127."):
        return frozenset({*LOOPBACK_NAMES, _normal(listen_host)})
    return frozenset({ANY_HOST})


def host_name(header: str) -> str:
    """The name of a Host header, without its port: ``[::1]:8000`` -> ``::1``."""
    header = header.strip()
    if header.startswith("["):
        return _normal(header[1:].partition("]")[0])
    return _normal(header.rpartition(":")[0] if header.count(":") == 1 else header)


def _normal(name: str) -> str:
    return name.strip().lower().removesuffix(".").strip("[]")


class Hardening:
    """ASGI middleware: refuse unknown Host names (400), add the security headers."""

    def __init__(self, app: ASGIApp, *, hosts: frozenset[str]) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        ui = path == "/" or path.startswith("/ui")
        extra = [*COMMON, (b"content-security-policy", (UI_POLICY if ui else API_POLICY).encode())]
        if ANY_HOST not in self.hosts and path not in PROBES:
            header = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            if host_name(header) not in self.hosts:
                await _refuse(send, extra, header)
                return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _refuse(send: Send, headers: list[tuple[bytes, bytes]], host: str) -> None:
    detail = f"Host {host[:100]!r} is not one this API answers to (API_ALLOWED_HOSTS)"
    body = json.dumps({"detail": detail}).encode()
    start = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": 400, "headers": start})
    await send({"type": "http.response.body", "body": body})
