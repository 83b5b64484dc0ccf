"""The API's peak memory under two hostile clients (a report, not a test: memory is not asserted).

    .venv/bin/python -m tests.reliability.api_memory body   # 300 MB POST /imports/start, no token
    .venv/bin/python -m tests.reliability.api_memory dead   # 8 GET /queues/import/dead over 200 dead chunks

Each starts a private redis-server, the MongoDB stand-in (or MONGODB_URL) and `job-importer api`
on loopback, and prints the API process's resident memory before and its peak (VmHWM) after.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime

import redis
from pydantic import SecretStr

from devstack.stack import start_embedded_mongo, start_redis
from job_importer.broker import build_broker
from job_importer.contract import chunk_message
from job_importer.keys import Keys
from job_importer.settings import Settings
from tests.api_server import ApiServer
from tests.conftest import free_port, make_settings

BODY_BYTES = 300 * 1024 * 1024
DEAD_CHUNKS = 200
CHUNK_BYTES = 512 * 1024  # CHUNK_MAX_BYTES's default: a full chunk
REQUESTS = 8


def _memory_mb(pid: int, field: str) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for {pid}")


@contextmanager
def _api() -> Iterator[ApiServer]:
    redis_port = free_port()
    redis_process = start_redis(redis_port, lambda message: None)
    mongo_process = None
    mongodb_url = os.environ.get("MONGODB_URL")
    if not mongodb_url:
        mongo_process, mongo_port = start_embedded_mongo(free_port())
        mongodb_url = f"mongodb://127.0.0.1:{mongo_port}/?directConnection=true"
    settings = make_settings(
        f"redis://127.0.0.1:{redis_port}/0", mongodb_url, api_token=SecretStr(uuid.uuid4().hex)
    )
    api = ApiServer(settings, name="memory")
    try:
        yield api
    finally:
        api.stop()
        for process in (redis_process, mongo_process):
            if process is not None:
                process.terminate()
                process.wait(timeout=10)


def measure_body() -> dict[str, object]:
    """Send a 300 MB JSON body without a token; the answer and the API's peak memory."""
    with _api() as api:
        before = _memory_mb(api.process.pid, "VmRSS")
        head = (
            f"POST /imports/start HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {BODY_BYTES}\r\n\r\n"
        )
        start, end = b'{"feeds": ["http://feeds.example/', b'"]}'  # valid JSON: one long URL
        filler = b"a" * (1024 * 1024)
        pieces = [start, *[filler] * ((BODY_BYTES - len(start) - len(end)) // len(filler))]
        pieces += [b"a" * (BODY_BYTES - len(start) - len(end) - len(filler) * (len(pieces) - 1)), end]
        sent = 0
        with socket.create_connection(("127.0.0.1", api.port), timeout=120) as sock:
            sock.sendall(head.encode())
            try:
                for piece in pieces:
                    sock.sendall(piece)
                    sent += len(piece)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the API answered and closed without reading the rest
            status = sock.recv(200).decode(errors="replace").split("\r\n")[0]
        peak = _memory_mb(api.process.pid, "VmHWM")
    return {"status": status, "body_mb_sent": round(sent / 2**20), "rss_before_mb": before, "peak_mb": peak}


def _bury_chunks(settings: Settings) -> None:
    """200 dead full chunks in the import queue's dead letters, as Dramatiq leaves them."""
    build_broker(settings)  # sets the encoder
    client = redis.Redis.from_url(settings.redis_url)
    keys = Keys(settings.queue_namespace)
    description = "x" * (CHUNK_BYTES // 100 - 200)
    now_ms = int(time.time() * 1000)
    for seq in range(DEAD_CHUNKS):
        items = [
            json.dumps({"id": f"board:{seq}-{n}", "title": "t", "description": description}).encode()
            for n in range(100)
        ]
        message = chunk_message(
            settings,
            run_id=f"run-{seq}",
            seq=seq,
            feed_url="http://feeds.example/board.xml",
            fetched_at=datetime.now(UTC),
            items=items,
        )
        client.zadd(keys.dead(settings.import_queue), {message.message_id: now_ms + seq})
        client.hset(keys.dead_messages(settings.import_queue), message.message_id, message.encode())


def measure_dead() -> dict[str, object]:
    """Eight concurrent dead-letter listings (page_size 200) over 200 dead chunks of 512 KB."""
    with _api() as api:
        _bury_chunks(api.settings)
        before = _memory_mb(api.process.pid, "VmRSS")

        def listing(_: int) -> int:
            with api.client() as client:
                answer = client.get("/queues/import/dead", params={"page_size": 200}, timeout=300)
                assert answer.status_code == 200, answer.text[:300]
                return len(answer.json()["items"])

        with ThreadPoolExecutor(REQUESTS) as pool:
            listed = list(pool.map(listing, range(REQUESTS)))
        peak = _memory_mb(api.process.pid, "VmHWM")
    return {"listed": listed, "rss_before_mb": before, "peak_mb": peak}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["body", "dead"])
    args = parser.parse_args()
    figures = measure_body() if args.what == "body" else measure_dead()
    print(json.dumps({k: round(v, 1) if isinstance(v, float) else v for k, v in figures.items()}))


if __name__ == "__main__":
    main()
