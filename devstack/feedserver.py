"""A small HTTP server on loopback that serves feeds: for the demo, the tests and the benchmarks.

Each path maps to bytes (served with an ETag when ``validators`` is on) or to a function of the
request that returns a :class:`Reply`, which may stream its body slowly or without end.

It counts what a host would see: ``hits`` per path, when each request arrived (``arrivals``) and
the most requests it was answering at once (``max_in_flight``); ``delay_s`` makes every response
that slow, so requests overlap.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/rss+xml; charset=utf-8"
    chunk_delay_s: float = 0.0  # pause before each part of an iterable body


Route = bytes | Callable[["Request"], Reply]


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client hanging up mid-body (size cap, deadline) is expected here, not news


class FeedServer:
    """``with FeedServer({"/a.xml": b"..."}) as server: server.url("/a.xml")``."""

    def __init__(
        self,
        routes: dict[str, Route] | None = None,
        *,
        validators: bool = False,
        port: int = 0,
        delay_s: float = 0.0,
    ) -> None:
        self.routes: dict[str, Route] = dict(routes or {})
        self.validators = validators
        self.delay_s = delay_s
        self.hits: Counter[str] = Counter()
        self.arrivals: list[tuple[str, float]] = []  # (path, time.monotonic()) per request
        self.in_flight = 0
        self.max_in_flight = 0
        self._counting = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", port), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="feed-server")

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> FeedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _began(self, path: str) -> None:
        with self._counting:
            self.arrivals.append((path, time.monotonic()))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _ended(self) -> None:
        with self._counting:
            self.in_flight -= 1

    def reply(self, request: Request) -> Reply:
        self.hits[request.path] += 1
        route = self.routes.get(request.path)
        if route is None:
            return Reply(status=404, body=b"not found", content_type="text/plain")
        if callable(route):
            return route(request)
        if self.validators:
            etag = '"' + hashlib.sha256(route).hexdigest()[:16] + '"'
            if request.headers.get("if-none-match") == etag:
                return Reply(status=304, headers={"ETag": etag})
            return Reply(body=route, headers={"ETag": etag})
        return Reply(body=route)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server._began(self.path)
                try:
                    if server.delay_s:
                        time.sleep(server.delay_s)
                    self._answer()
                finally:
                    server._ended()

            def _answer(self) -> None:
                request = Request(path=self.path, headers={k.lower(): v for k, v in self.headers.items()})
                reply = server.reply(request)
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if isinstance(reply.body, bytes):
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                    return
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    for part in reply.body:
                        if reply.chunk_delay_s:
                            time.sleep(reply.chunk_delay_s)
                        self.wfile.write(part)
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (size cap, deadline): exactly what some tests want
                self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
