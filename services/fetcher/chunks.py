"""Packing items into importer chunks: at most N items and B bytes of JSON per message.

Each item is encoded to JSON once, here; the message embeds those bytes as they are
(:func:`job_importer.contract.chunk_message`), so the size measured is the size sent.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from job_importer.contract import ENVELOPE_BYTES, JOB_ITEM, JobItem


@dataclass(frozen=True, slots=True)
class Encoded:
    """An item as it is sent: its JSON, and what the fetcher still needs of it (the pending
    claim's id and hash, a failure's guid and title). Streamed items wait on disk in this form."""

    id: str
    content_hash: str
    guid: str
    title: str
    data: bytes

    @classmethod
    def of(cls, item: JobItem) -> Encoded:
        return cls(item.id, item.content_hash, item.guid, item.title, JOB_ITEM.dump_json(item))


#: What the chunker takes: an item, or one encoded already.
Item = JobItem | Encoded


class ItemTooLarge(ValueError):
    """One item alone is bigger than a message may be."""


class Chunker:
    """Collects items and hands out full chunks; ``flush_ms`` bounds how long a partial one waits."""

    def __init__(self, max_items: int, max_bytes: int, flush_ms: int) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes - ENVELOPE_BYTES
        self.flush_s = flush_ms / 1000
        self._items: list[tuple[Item, bytes]] = []
        self._bytes = 0
        self._started = 0.0

    def add(self, item: Item) -> Iterator[list[tuple[Item, bytes]]]:
        """Add one item; yields the chunks that are ready (zero, one, or two), as (item, JSON) pairs.

        Raises ItemTooLarge (before yielding anything) for an item that can't fit any message.
        """
        data = item.data if isinstance(item, Encoded) else JOB_ITEM.dump_json(item)
        size = len(data) + 1  # and a comma
        if size > self.max_bytes:
            raise ItemTooLarge(f"item is {size:,} bytes as JSON; a chunk holds at most {self.max_bytes:,}")
        if self._items and self._bytes + size > self.max_bytes:
            yield self._take()
        if not self._items:
            self._started = time.monotonic()
        self._items.append((item, data))
        self._bytes += size
        overdue = self.flush_s > 0 and time.monotonic() - self._started >= self.flush_s
        if len(self._items) >= self.max_items or overdue:
            yield self._take()

    def flush(self) -> Iterator[list[tuple[Item, bytes]]]:
        if self._items:
            yield self._take()

    def _take(self) -> list[tuple[Item, bytes]]:
        items, self._items, self._bytes = self._items, [], 0
        return items
