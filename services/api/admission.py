"""What a request must pass before the application reads its body: the token, then a size limit.

FastAPI reads (and parses) a request's whole body before it runs the route's dependencies, the
token check among them, and neither it nor uvicorn bounds a body's size (uvicorn's limits are on
headers). So 300 MB sent without a token were read into memory to be answered 401. This ASGI
middleware runs first: a mutating request (every POST, PUT, PATCH, DELETE needs the token) without
the right token is refused before one byte of its body is read, and a body over
``API_MAX_BODY_BYTES`` is refused with 413, from its ``Content-Length`` when it declares one, else
as soon as the bytes received pass the limit. A body within the limit is handed on unchanged.

A middleware rather than a reverse proxy's limit, so that the API is safe however it is deployed
(``job-importer up`` has no proxy in front of it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from fastapi import HTTPException
from pydantic import SecretStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.api.deps import check_token

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Admission:
    """ASGI middleware: the token of mutating requests, then the body's size, before the app runs."""

    def __init__(self, app: ASGIApp, *, token: SecretStr | None, max_body_bytes: int) -> None:
        self.app = app
        self.token = token
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
        }
        if scope["method"] in MUTATING:
            try:
                check_token(self.token, bearer_token(headers.get("authorization")))
            except HTTPException as refused:
                await _reply(send, refused.status_code, refused.detail, refused.headers)
                return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await _reply(send, 413, self._too_large())
            return
        body = await self._read_body(receive)
        if body is None:
            await _reply(send, 413, self._too_large())
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read_body(self, receive: Receive) -> list[Message] | None:
        """The request's body messages, or None once they exceed the limit (the rest unread)."""
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages  # the client went away: let the app see it
            size += len(message.get("body", b""))
            if size > self.max_body_bytes:
                return None
            if not message.get("more_body", False):
                return messages

    def _too_large(self) -> str:
        return f"request body over {self.max_body_bytes} bytes (API_MAX_BODY_BYTES)"


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (as FastAPI's HTTPBearer reads it)."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


async def _reply(send: Send, status: int, detail: str, headers: Mapping[str, str] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw_headers += [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
    # The unread body stays unread: the server closes the connection rather than drain it.
    raw_headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})
