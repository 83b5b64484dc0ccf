"""The API's access log: one line per request (method, path, status, duration, client).

Ours rather than uvicorn's, so that it goes through the same handlers, format (``LOG_FORMAT``)
and redaction as every other line; uvicorn's own access log is off (``cli/processes.py``).
A pure ASGI middleware: it sees the status of streamed answers (the event stream) too.
Health probes and metric scrapes are logged at DEBUG.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("job_importer.api.access")
#: Probes and scrapes come every few seconds: logged at DEBUG only.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: dict[str, Any] = {"code": 500}

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            client = scope.get("client")
            path = scope.get("path", "")
            query = scope.get("query_string", b"").decode(errors="replace")
            target = f"{path}?{query}" if query else path
            log.log(
                logging.DEBUG if path in QUIET_PATHS else logging.INFO,
                "%s %s %s %.1f ms", scope.get("method", ""), target, status["code"], duration_ms,
                extra={"method": scope.get("method"), "path": target, "status": status["code"],
                       "duration_ms": duration_ms, "client": client[0] if client else None},
            )  # fmt: skip
