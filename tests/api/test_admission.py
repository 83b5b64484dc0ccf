"""Nothing of a request's body is read before its token is checked, and no body is read past the limit.

Each request here sends its headers (declaring a large body) and then waits: the answer must come
without the body, since a server that read it first would wait for ever (the socket's timeout
fails the test).
"""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.api_server import Stack

DECLARED = 300 * 1024 * 1024  # what the attack sent


def _ask_without_sending_the_body(stack: Stack, head: str) -> str:
    with socket.create_connection(("127.0.0.1", stack.api.port), timeout=10) as sock:
        sock.sendall(head.encode())
        received = b""
        try:
            while piece := sock.recv(65536):  # the API closes the connection after its answer
                received += piece
        except TimeoutError:
            pytest.fail(f"the API waited for the body instead of answering (got {received[:200]!r})")
    return received.decode(errors="replace")


@pytest.mark.parametrize("authorization", ["", "Authorization: Bearer not-the-token\r\n"])
def test_a_mutating_request_without_the_token_is_refused_before_its_body_is_read(
    stack: Stack, authorization: str
) -> None:
    answer = _ask_without_sending_the_body(
        stack,
        f"POST /imports/start HTTP/1.1\r\nHost: 127.0.0.1\r\n{authorization}"
        f"Content-Type: application/json\r\nContent-Length: {DECLARED}\r\n\r\n",
    )
    assert answer.startswith("HTTP/1.1 401"), answer
    assert "\r\nwww-authenticate: Bearer" in answer


def test_a_body_declared_over_the_limit_is_refused_unread(stack: Stack) -> None:
    answer = _ask_without_sending_the_body(
        stack,
        f"POST /imports/start HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {stack.token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {DECLARED}\r\n\r\n",
    )
    assert answer.startswith("HTTP/1.1 413"), answer
    assert "API_MAX_BODY_BYTES" in answer


def test_a_chunked_body_is_cut_at_the_limit(stack: Stack, client: httpx.Client) -> None:
    limit = stack.settings.api_max_body_bytes

    def endless() -> object:
        piece = b" " * 65536
        for _ in range(4 * limit // len(piece)):
            yield piece

    answer = client.post(
        "/imports/start", content=endless(), headers={"Content-Type": "application/json"}
    )  # no Content-Length: httpx sends it chunked
    assert answer.status_code == 413
    assert "API_MAX_BODY_BYTES" in answer.json()["detail"]


def test_a_body_within_the_limit_still_works(stack: Stack, client: httpx.Client) -> None:
    answer = client.post("/imports/start", json={"feeds": ["not a url"]})
    assert answer.status_code == 422  # read and validated as before
