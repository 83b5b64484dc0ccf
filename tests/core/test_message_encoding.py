"""Chunk messages embed each item's JSON as encoded once, and read back as a valid Chunk."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import dramatiq

from job_importer.broker import JSONEncoder
from job_importer.contract import JOB_ITEM, JOB_ITEMS, Chunk, JobItem, chunk_message, content_hash
from job_importer.settings import Settings


def item(number: int) -> JobItem:
    fields = {"title": f'Ingénieur {number} \u2028 "quoted"', "description": "<p>x</p>", "extra": {"k": "v"}}
    return JobItem(
        id=f"s#{number}", source="s", guid=str(number), content_hash=content_hash(fields), **fields
    )


def test_a_chunk_message_reads_back_as_the_chunk_it_was() -> None:
    items = [item(n) for n in range(3)]
    fetched_at = datetime(2026, 11, 27, 9, 0, 0, 123456, tzinfo=UTC)
    message = chunk_message(
        Settings(feeds=[]), run_id="run-1", seq=4, feed_url="http://f", fetched_at=fetched_at,
        items=[JOB_ITEM.dump_json(one) for one in items],
    )  # fmt: skip
    encoded = JSONEncoder().encode(message.asdict())
    for decode in (JSONEncoder().decode, json.loads):  # either encoder reads it
        chunk = Chunk.model_validate(dramatiq.Message(**decode(encoded)).args[0])
        assert (chunk.run_id, chunk.seq, chunk.feed_url, chunk.fetched_at) == (
            "run-1",
            4,
            "http://f",
            fetched_at,
        )
        assert JOB_ITEMS.validate_python(chunk.items) == items


def test_messages_of_dramatiqs_own_encoder_read_the_same() -> None:
    message = dramatiq.Message(queue_name="q", actor_name="a", args=("x", {"n": 1}), kwargs={}, options={})
    theirs = dramatiq.JSONEncoder()
    ours = JSONEncoder()
    assert ours.decode(theirs.encode(message.asdict())) == theirs.decode(theirs.encode(message.asdict()))
    assert theirs.decode(ours.encode(message.asdict())) == theirs.decode(theirs.encode(message.asdict()))
