"""WORKER_RATE_LIMIT_MAX chunk writes per WORKER_RATE_LIMIT_DURATION_MS, across all importers.

A fixed window counter in Redis. Over the limit, the worker waits for the next window instead of
failing the message, so rate limiting never spends a retry.
"""

from __future__ import annotations

import time

import redis


class RateLimiter:
    def __init__(self, client: redis.Redis, key: str, limit: int, window_ms: int) -> None:
        self.client = client
        self.key = key
        self.limit = limit
        self.window_ms = window_ms

    def wait(self) -> int | None:
        """Block until this call fits in a window; returns that window's number (None: limit off)."""
        if self.limit <= 0:
            return None
        while True:
            now_ms = int(time.time() * 1000)
            window = now_ms // self.window_ms
            key = f"{self.key}:{window}"
            with self.client.pipeline(transaction=False) as pipe:
                pipe.incr(key)
                pipe.pexpire(key, self.window_ms * 2)
                count, _ = pipe.execute()
            if count <= self.limit:
                return window
            time.sleep(((window + 1) * self.window_ms - now_ms) / 1000)
