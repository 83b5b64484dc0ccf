"""A chunk is one store command, and one more when it has unchanged items to mark as seen (the
listing lifecycle); a redelivered chunk adds one read. Never a call per item."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import bson
import pytest
from pymongo import MongoClient, monitoring

from job_importer.db import Store
from job_importer.history import now
from job_importer.settings import Settings
from services.importer.store import write_items
from tests.importer.test_store import item


class Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.names.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def take(self) -> list[str]:
        names, self.names = self.names, []
        return names


@pytest.fixture
def watched(settings: Settings, store: Store) -> Iterator[tuple[Store, Commands]]:
    """The test's store through a client of its own that records every command."""
    commands = Commands()
    client: MongoClient = MongoClient(settings.mongodb_url, event_listeners=[commands], tz_aware=True)
    yield Store(client[settings.mongodb_db]), commands
    client.close()


def test_each_chunk_is_one_bulk_write_whatever_its_items(watched: tuple[Store, Commands]) -> None:
    store, commands = watched
    fetched = now()
    assert write_items(store, "run-1", "http://f", fetched, [item(n) for n in range(50)]).counts == {
        "new": 50
    }
    assert commands.take() == ["update"]
    later = [item(0, "Lead"), *[item(n) for n in range(1, 50)], item(50)]
    outcome = write_items(store, "run-2", "http://f", fetched + timedelta(seconds=1), later)
    assert outcome.counts == {"updated": 1, "unchanged": 49, "new": 1}
    assert commands.take() == ["update", "update"]  # the 49 unchanged ones are marked seen


def test_a_redelivered_chunk_is_one_write_and_one_read(watched: tuple[Store, Commands]) -> None:
    store, commands = watched
    fetched = now()
    write_items(store, "run-1", "http://f", fetched, [item(1), item(2)])
    chunk = [item(1, "Changed"), item(2), item(3)]
    first = write_items(store, "run-2", "http://f", fetched + timedelta(seconds=1), chunk)
    commands.take()
    replay = write_items(store, "run-2", "http://f", fetched + timedelta(seconds=1), chunk)
    assert first.counts == replay.counts == {"updated": 1, "unchanged": 1, "new": 1}
    assert commands.take() == ["update", "find", "update"]


class Updates(Commands):
    """Also the number of write operations in each update command."""

    def __init__(self) -> None:
        super().__init__()
        self.operations: list[int] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        super().started(event)
        if event.command_name == "update":
            self.operations.append(len(event.command["updates"]))


def test_each_item_is_one_write_operation_on_first_import_and_re_import(
    settings: Settings, store: Store
) -> None:
    updates = Updates()
    client: MongoClient = MongoClient(settings.mongodb_url, event_listeners=[updates], tz_aware=True)
    watched = Store(client[settings.mongodb_db])
    fetched = now()
    try:
        write_items(watched, "run-1", "http://f", fetched, [item(n) for n in range(40)])
        again = [item(0, "Lead"), *[item(n) for n in range(1, 40)]]
        write_items(watched, "run-2", "http://f", fetched + timedelta(seconds=1), again)
    finally:
        client.close()
    # One operation per item; the chunk with unchanged items adds two (mark seen, reactivate).
    assert updates.operations == [40, 40, 2]


class Sizes(Commands):
    """Also each upsert operation as it went over the wire (the command's BSON)."""

    def __init__(self) -> None:
        super().__init__()
        self.upserts: list[bytes] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        super().started(event)
        if event.command_name == "update":
            self.upserts += [bson.encode(op) for op in event.command["updates"] if op.get("upsert")]


def test_each_upsert_carries_its_item_once(settings: Settings, store: Store) -> None:
    sizes = Sizes()
    client: MongoClient = MongoClient(settings.mongodb_url, event_listeners=[sizes], tz_aware=True)
    text = "Distinctive description " * 40
    listing = item(1).model_copy(update={"description": text})
    try:
        outcome = write_items(Store(client[settings.mongodb_db]), "run-1", "http://f", now(), [listing])
    finally:
        client.close()
    assert outcome.counts == {"new": 1}
    assert len(sizes.upserts) == 1
    assert sizes.upserts[0].count(text.encode()) == 1  # both branches of the update refer to it
    assert store.jobs.find_one({"_id": listing.id})["description"] == text
