"""Items waiting in the import queue, so the fetcher does not enqueue one twice.

A Redis hash per import queue maps item id -> "content hash|expiry ms|run id". One script call
per chunk marks its items pending and reports the ones already waiting with the same content
(from another run). The importer deletes the entries once a chunk is written; the expiry covers
entries whose cleanup was lost (a chunk dead-lettered, a crash between write and cleanup).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol

import redis

from job_importer.keys import Keys
from job_importer.settings import Settings

_MARK_PENDING = """
local now = tonumber(ARGV[1])
local value_suffix = '|' .. (now + tonumber(ARGV[2])) .. '|' .. ARGV[3]
local run = ARGV[3]
local n = (#ARGV - 3) / 2
local duplicate = {}
for first = 1, n, 500 do
    local last = math.min(first + 499, n)
    local ids = {}
    for i = first, last do ids[#ids + 1] = ARGV[2 + 2 * i] end
    local current = redis.call('HMGET', KEYS[1], unpack(ids))
    local updates = {}
    for i = first, last do
        local hash = ARGV[3 + 2 * i]
        local value = current[i - first + 1]
        local dup = 0
        if value then
            local h, expires, owner = string.match(value, '^([^|]*)|([^|]*)|(.*)$')
            if h == hash and tonumber(expires) > now and owner ~= run then dup = 1 end
        end
        if dup == 0 then
            updates[#updates + 1] = ARGV[2 + 2 * i]
            updates[#updates + 1] = hash .. value_suffix
        end
        duplicate[i] = dup
    end
    if #updates > 0 then redis.call('HSET', KEYS[1], unpack(updates)) end
end
return duplicate
"""


class Claimable(Protocol):
    """What a claim needs of an item (a JobItem, or the fetcher's encoded form of one)."""

    @property
    def id(self) -> str: ...

    @property
    def content_hash(self) -> str: ...


class PendingItems:
    """The set of items waiting in one import queue."""

    def __init__(self, client: redis.Redis, namespace: str, queue: str, ttl_s: int) -> None:
        self.client = client
        self.key = Keys(namespace).pending(queue)
        self.ttl_ms = ttl_s * 1000
        self._mark = client.register_script(_MARK_PENDING)

    @classmethod
    def for_settings(cls, client: redis.Redis, settings: Settings) -> PendingItems:
        """The import queue's waiting items, as configured (``DEDUPE_TTL_S``)."""
        return cls(client, settings.queue_namespace, settings.import_queue, settings.dedupe_ttl_s)

    def claim(self, items: Sequence[Claimable], run_id: str) -> list[bool]:
        """Mark items pending for this run; True for each item already waiting (a duplicate)."""
        if not items:
            return []
        args: list[str | int] = [int(time.time() * 1000), self.ttl_ms, run_id]
        for item in items:
            args += [item.id, item.content_hash]
        flags = self._mark(keys=[self.key], args=args)
        return [bool(flag) for flag in flags]

    def release(self, ids: Sequence[str]) -> None:
        """Forget items once they are written (or dead-lettered)."""
        if ids:
            self.client.hdel(self.key, *ids)
