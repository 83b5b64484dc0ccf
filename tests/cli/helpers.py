"""Running the `job-importer` command as a user does: piped, or in a terminal of a given size."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
import uuid
from dataclasses import dataclass
from typing import Any

import dramatiq

from job_importer import failed_items, feed_registry, history
from job_importer.contract import IMPORT_ACTOR
from job_importer.db import Store
from job_importer.deadletters import reason_record
from job_importer.failed_items import ItemFailure
from job_importer.keys import Keys
from job_importer.settings import FeedConfig, FeedSpec, Settings

LONG_URL = "http://127.0.0.1:9/feeds/remote-engineering-and-data-science-jobs-worldwide.xml?category=backend&region=emea"
ERROR = "[Errno 111] Connection refused while fetching the feed (after 3 attempts, the last at 22:41:07)"
REASON = (
    "entry has no title: <item><guid>https://example.org/jobs/12345-senior-platform-engineer</guid></item>"
)
DEAD_REASON = "ValueError: chunk 0 is not a chunk (expected run_id, seq, items; got 'not', 'a chunk')"
GUID = "https://example.org/jobs/12345-senior-platform-engineer-remote-europe-full-time"


def seed(settings: Settings, store: Store, redis_client: Any) -> dict[str, Any]:
    """Two runs (one failed), a failed item, two dead letters and a registered feed (the one whose
    run failed), with long values."""
    feeds = [FeedConfig(url=LONG_URL), FeedConfig(url=LONG_URL.replace("backend", "frontend"))]
    registered = feed_registry.add_feed(store, FeedSpec(url=LONG_URL, schedule="*/15 * * * *"))
    run_ids = history.create_runs(store, feeds, "cli", history.new_id("batch-"))
    history.fail_run(store, run_ids[0], ERROR)
    failed_items.record(store, run_ids[1], feeds[1].url, [ItemFailure(key="g1", reason=REASON, guid=GUID)])
    dead = [bury(settings, redis_client, DEAD_REASON) for _ in range(2)]
    return {"run_ids": run_ids, "urls": [feed.url for feed in feeds], "dead": dead, "feed_id": registered.id}


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def cli_env(settings: Settings | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    if settings is not None:
        env.update(settings.as_env())
    env.update(extra)
    return env


def cli(
    settings: Settings | None, *args: str, input: str | None = None, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    """The command with stdout and stderr piped (not a terminal), stdin from ``input``."""
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=cli_env(settings, **env),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class Screen:
    """What a terminal showed (escape sequences removed) and the exit code."""

    text: str
    returncode: int


def in_terminal(
    settings: Settings, columns: int, *args: str, answer: str | None = None, timeout: float = 120
) -> Screen:
    """The command on a pseudo-terminal of ``columns`` x 50 (stdin, stdout and stderr all on it)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", *args],
        env=cli_env(settings, TERM="xterm-256color"),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    answered = answer is None
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
                if not answered and b"[y/N]" in b"".join(chunks):
                    os.write(master, f"{answer}\n".encode())
                    answered = True
            elif process.poll() is not None:
                break
        returncode = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(master)
    text = ANSI.sub("", b"".join(chunks).decode(errors="replace")).replace("\r\n", "\n")
    return Screen(text, returncode)


def bury(settings: Settings, client: Any, reason: str, queue: str | None = None) -> str:
    """A dead letter as Dramatiq's Redis broker leaves one (``.XQ`` + ``.XQ.msgs``) and its reason
    as ours records it; returns the message id."""
    queue = queue or settings.import_queue
    keys = Keys(settings.queue_namespace)
    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name=queue,
        actor_name=IMPORT_ACTOR,
        args=({"run_id": f"run-{uuid.uuid4().hex[:6]}", "seq": 0, "items": []},),
        kwargs={},
        options={"traceback": f"Traceback (most recent call last):\nValueError: {reason}"},
    )
    client.zadd(keys.dead(queue), {message.message_id: time.time() * 1000})
    client.hset(keys.dead_messages(queue), message.message_id, message.encode())
    client.hset(keys.dead_reasons(), message.message_id, reason_record(reason))
    return message.message_id
