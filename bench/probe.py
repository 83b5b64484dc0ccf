"""Loaded into the worker processes by the benchmark (an extra module on dramatiq's command line).

Counts what this process asks of the store and of Redis: MongoDB commands (each one a round
trip) with a pymongo command listener; Redis commands and round trips (a pipeline is one round
trip) by wrapping redis-py's entry points. Writes them with the process's peak RSS to
``$BENCH_PROBE_DIR/<pid>.json`` four times a second. Files, not Redis, so that the probe
adds no Redis commands of its own. Redis's server-side count also includes the commands its
Lua scripts call, which the benchmark reports separately.
"""

from __future__ import annotations

import atexit
import json
import os
import resource
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import redis.client
from pymongo import monitoring

FLUSH_S = 0.25


class CommandCounter(monitoring.CommandListener):
    def __init__(self) -> None:
        self.commands: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.commands[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


_redis: Counter[str] = Counter()
_redis_lock = threading.Lock()


def _count_redis() -> None:
    single = redis.client.Redis.execute_command
    pipelined = redis.client.Pipeline.execute

    def execute_command(self: redis.client.Redis, *args: Any, **options: Any) -> Any:
        with _redis_lock:
            _redis["commands"] += 1
            _redis["round_trips"] += 1
        return single(self, *args, **options)

    def execute(self: redis.client.Pipeline, raise_on_error: bool = True) -> Any:
        if self.command_stack:
            with _redis_lock:
                multi_exec = (
                    2 if vars(self).get("transaction") is True else 0
                )  # the attribute, not the method
                _redis["commands"] += len(self.command_stack) + multi_exec
                _redis["round_trips"] += 1
        return pipelined(self, raise_on_error)

    redis.client.Redis.execute_command = execute_command  # type: ignore[method-assign]
    redis.client.Pipeline.execute = execute  # type: ignore[method-assign]


def _flush(counter: CommandCounter, directory: Path) -> None:
    target = directory / f"{os.getpid()}.json"
    scratch = directory / f".{os.getpid()}.{threading.get_ident()}.tmp"
    report = {
        "pid": os.getpid(),
        "commands": dict(counter.commands),
        "redis": dict(_redis),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }
    scratch.write_text(json.dumps(report))
    scratch.replace(target)  # the benchmark waits for a write after each run


def _flush_forever(counter: CommandCounter, directory: Path) -> None:
    while True:
        _flush(counter, directory)
        threading.Event().wait(FLUSH_S)


if os.environ.get("BENCH_PROBE_DIR"):
    _counter = CommandCounter()
    monitoring.register(_counter)  # before the worker creates its MongoClient (on first use)
    _count_redis()
    atexit.register(_flush, _counter, Path(os.environ["BENCH_PROBE_DIR"]))  # short-lived commands
    threading.Thread(
        target=_flush_forever,
        args=(_counter, Path(os.environ["BENCH_PROBE_DIR"])),
        daemon=True,
        name="bench-probe",
    ).start()
