"""Chunking items into messages by count and by bytes."""

from __future__ import annotations

import json

import pytest

from job_importer.contract import JobItem, content_hash
from services.fetcher.chunks import ENVELOPE_BYTES, Chunker, Encoded, ItemTooLarge


def item(number: int, description: str = "d") -> JobItem:
    fields = {"title": f"T{number}", "description": description}
    return JobItem(
        id=f"s#{number}", source="s", guid=str(number), content_hash=content_hash(fields), **fields
    )


def chunk_all(chunker: Chunker, items: list[JobItem]) -> list[list[dict[str, object]]]:
    """The chunks, each item as its encoded JSON decodes (checking the pairs agree)."""
    chunks = [chunk for one in items for chunk in chunker.add(one)] + list(chunker.flush())
    decoded = []
    for chunk in chunks:
        assert all(json.loads(data) == item.model_dump(mode="json") for item, data in chunk)
        decoded.append([json.loads(data) for _, data in chunk])
    return decoded


def test_chunks_hold_at_most_the_batch_size() -> None:
    chunks = chunk_all(Chunker(max_items=10, max_bytes=1_000_000, flush_ms=0), [item(n) for n in range(25)])
    assert [len(chunk) for chunk in chunks] == [10, 10, 5]
    assert [data["id"] for chunk in chunks for data in chunk] == [f"s#{n}" for n in range(25)]


def test_chunks_stay_under_the_byte_cap() -> None:
    limit = 40_000
    chunks = chunk_all(
        Chunker(max_items=1000, max_bytes=limit, flush_ms=0), [item(n, "x" * 5000) for n in range(30)]
    )
    assert len(chunks) > 1
    for chunk in chunks:
        assert len(json.dumps(chunk).encode()) <= limit - ENVELOPE_BYTES
    assert sum(len(chunk) for chunk in chunks) == 30


def test_an_item_bigger_than_any_message_is_refused() -> None:
    chunker = Chunker(max_items=10, max_bytes=20_000, flush_ms=0)
    with pytest.raises(ItemTooLarge, match="a chunk holds at most"):
        list(chunker.add(item(1, "x" * 30_000)))
    assert list(chunker.flush()) == []


def test_items_encoded_beforehand_are_chunked_as_the_items_are() -> None:
    """Streamed items wait on disk as :class:`Encoded`; their chunks are the items' own."""
    items = [item(n, "x" * (n * 97 % 3000)) for n in range(60)]
    encoded = [Encoded.of(one) for one in items]
    assert [(e.id, e.content_hash, e.guid, e.title) for e in encoded] == [
        (one.id, one.content_hash, one.guid, one.title) for one in items
    ]
    as_items = chunk_all(Chunker(max_items=7, max_bytes=40_000, flush_ms=0), items)
    chunker = Chunker(max_items=7, max_bytes=40_000, flush_ms=0)
    chunks = [chunk for one in encoded for chunk in chunker.add(one)] + list(chunker.flush())
    assert [[json.loads(data) for _, data in chunk] for chunk in chunks] == as_items
