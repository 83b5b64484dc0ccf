"""Redis and MongoDB for one machine: use what answers, start private ones where nothing does.

Used by `job-importer up`, `demo` and `import --wait`. A Redis URL that does not answer on
loopback gets a private `redis-server` on that port (Debian's package is installed when missing
and we are root); a MongoDB URL that was not set explicitly and does not answer gets the
embedded stand-in (mongoeco) on 127.0.0.1:27017. Whatever was started is stopped again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import urlsplit

import redis
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from job_importer.settings import DEFAULT_MONGODB_URL, Settings

Say = Callable[[str], None]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def mongo_answers(url: str) -> bool:
    client: MongoClient[Any] = MongoClient(url, serverSelectionTimeoutMS=1000, connectTimeoutMS=1000)
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def redis_server_binary(say: Say) -> str:
    """The redis-server binary, installing Debian's package when missing and running as root."""
    found = shutil.which("redis-server")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RuntimeError("redis-server is not installed; install Redis or set REDIS_URL")
    say("installing redis-server (Debian package)")
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "redis-server"],
        check=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    return shutil.which("redis-server") or "/usr/bin/redis-server"


def start_redis(
    port: int, say: Say, *, appendonly: bool = False, data_dir: str | None = None
) -> subprocess.Popen[bytes]:
    """A private redis-server on 127.0.0.1:port; returns once it answers."""
    binary = redis_server_binary(say)
    directory = data_dir or tempfile.mkdtemp(prefix="job-importer-redis-")
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "yes" if appendonly else "no",
            "--dir",
            directory,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_until(lambda: redis_answers(f"redis://127.0.0.1:{port}/0"), process, f"redis-server on port {port}")
    return process


def start_embedded_mongo(port: int) -> tuple[subprocess.Popen[str], int]:
    """The mongoeco wire server in a child process; returns it and the port it listens on."""
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack.embedded_mongo", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline().split()
    if len(line) != 2 or line[0] != "ready":
        process.kill()
        raise RuntimeError(
            "the embedded MongoDB stand-in did not start (is mongoeco installed? pip install '.[embedded]')"
        )
    return process, int(line[1])


def _wait_until(
    check: Callable[[], bool], process: subprocess.Popen[bytes], what: str, timeout_s: float = 15
) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode}")
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"{what} did not answer within {timeout_s:.0f} s")
        time.sleep(0.05)


@contextmanager
def local_stack(settings: Settings, say: Say) -> Iterator[Settings]:
    """Settings whose Redis and MongoDB answer, starting private servers where needed."""
    started: list[subprocess.Popen[Any]] = []
    try:
        redis_url = settings.redis_url
        if not redis_answers(redis_url):
            parts = urlsplit(redis_url)
            if parts.hostname not in LOOPBACK:
                raise RuntimeError(f"Redis at {parts.hostname}:{parts.port} does not answer (REDIS_URL)")
            port = parts.port or 6379
            say(f"no Redis answers at {parts.hostname}:{port}; starting a private redis-server there")
            started.append(start_redis(port, say))
        mongodb_url = settings.mongodb_url
        if not mongo_answers(mongodb_url):
            if "mongodb_url" in settings.model_fields_set and mongodb_url != DEFAULT_MONGODB_URL:
                raise RuntimeError("MongoDB does not answer at MONGODB_URL")
            say(
                "MONGODB_URL not set and nothing answers on 127.0.0.1:27017; starting the embedded MongoDB stand-in (mongoeco, in memory)"
            )
            process, port = start_embedded_mongo(27017)
            started.append(process)
            mongodb_url = f"mongodb://127.0.0.1:{port}/?directConnection=true"
        yield settings.model_copy(update={"redis_url": redis_url, "mongodb_url": mongodb_url})
    finally:
        for process in reversed(started):
            process.terminate()
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
            if process.poll() is None:
                process.kill()


def child_env(settings: Settings) -> dict[str, str]:
    """The environment for child processes: ours plus the URLs actually in use."""
    return {**os.environ, **settings.as_env()}
