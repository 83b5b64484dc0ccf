"""Atom entries are identified by their atom:id, and a database filled under the old rule
(link first) is moved onto the new ids without ever holding one entry twice."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from devstack.samplefeeds import atom_feed, sample_jobs
from job_importer.contract import JobItem
from job_importer.history import now
from job_importer.settings import FeedConfig
from services.fetcher.legacy_ids import adopt_legacy_ids
from services.fetcher.normalize import normalize
from services.fetcher.parse import parse_feed, parse_with_feedparser
from services.importer.store import write_items

FEED = FeedConfig(url="https://atomjobs.example/feed", source="atom")

SHARED_LINK = (
    b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
    b"<id>tag:x,2026:feed</id><updated>2026-11-27T09:00:00Z</updated>"
    + b"".join(
        f'<entry><title>Role {n}</title><id>tag:x,2026:role-{n}</id><link href="https://x.example/apply"/>'
        f"<updated>2026-11-27T09:00:00Z</updated></entry>".encode()
        for n in range(4)
    )
    + b"</feed>"
)


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "feedparser"])
def test_atom_entries_sharing_a_link_are_distinct(fast: bool) -> None:
    normalized = normalize(parse_feed(SHARED_LINK, fast=fast).entries, FEED)
    assert [item.guid for item in normalized.items] == [f"tag:x,2026:role-{n}" for n in range(4)]
    assert normalized.duplicates == 0


def test_rss_keeps_guid_then_link() -> None:
    body = (
        b'<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>t</title>'
        b"<item><title>A</title><link>https://x.example/a</link><atom:id>tag:a</atom:id></item>"
        b"<item><title>B</title><guid>b-1</guid><link>https://x.example/b</link></item></channel></rss>"
    )
    items = normalize(parse_feed(body).entries, FEED).items
    assert [item.guid for item in items] == ["https://x.example/a", "b-1"]


def legacy_and_current(count: int) -> tuple[list[JobItem], list[JobItem]]:
    """The same entries as the old rule identified them (link first) and as the new one does."""
    body = atom_feed(sample_jobs(count, seed=8))
    old_rule = [replace(entry, guid="") for entry in parse_with_feedparser(body).entries]
    return normalize(old_rule, FEED).items, normalize(parse_feed(body).entries, FEED).items


def test_the_migration_moves_legacy_documents_once(store) -> None:
    legacy, current = legacy_and_current(6)
    assert {item.id for item in legacy}.isdisjoint(item.id for item in current)
    fetched = now()
    write_items(store, "run-old", FEED.url, fetched, legacy)
    stored = {doc["_id"]: doc for doc in store.jobs.find()}

    assert adopt_legacy_ids(store, current, atom=True) == 6
    assert adopt_legacy_ids(store, current, atom=True) == 0  # idempotent
    docs = {doc["_id"]: doc for doc in store.jobs.find()}
    assert sorted(docs) == sorted(item.id for item in current)
    for old, new in zip(legacy, current, strict=True):
        moved = docs[new.id]
        assert moved["guid"] == new.guid
        assert {k: v for k, v in moved.items() if k not in ("_id", "guid")} == {
            k: v for k, v in stored[old.id].items() if k not in ("_id", "guid")
        }
    # The next import finds every entry where it was, unchanged.
    outcome = write_items(store, "run-new", FEED.url, fetched + timedelta(seconds=1), current)
    assert outcome.counts == {"unchanged": 6}
    assert store.jobs.count_documents({}) == 6


def test_an_entry_stored_under_both_ids_keeps_the_new_document(store) -> None:
    legacy, current = legacy_and_current(3)
    fetched = now()
    write_items(store, "run-old", FEED.url, fetched, legacy)
    write_items(store, "run-new", FEED.url, fetched + timedelta(seconds=1), current[:1])
    assert store.jobs.count_documents({}) == 4  # what an upgrade without the move would leave
    assert adopt_legacy_ids(store, current, atom=True) == 3
    assert sorted(doc["_id"] for doc in store.jobs.find()) == sorted(item.id for item in current)
    assert store.jobs.find_one({"_id": current[0].id})["created_run"] == "run-new"


def test_listings_stored_under_a_relative_link_move_to_the_resolved_one(store) -> None:
    body = (
        b'<rss version="2.0"><channel><title>t</title>'
        b"<item><title>Release</title><link>/gulpjs/gulp/releases/tag/v3.9.0</link></item>"
        b"<item><title>Absolute</title><link>https://elsewhere.example/x</link></item></channel></rss>"
    )
    url = "https://github.example/gulpjs/gulp/releases.rss"
    feed = FeedConfig(url=url, source="gh")
    legacy = normalize(parse_feed(body).entries, feed).items  # as read before: no base URL
    current = normalize(parse_feed(body, base_url=url).entries, feed).items
    assert legacy[0].id == "gh#/gulpjs/gulp/releases/tag/v3.9.0"
    assert current[0].id == "gh#https://github.example/gulpjs/gulp/releases/tag/v3.9.0"
    fetched = now()
    write_items(store, "run-old", url, fetched, legacy)

    assert adopt_legacy_ids(store, current, atom=False, base_url=url) == 1
    assert adopt_legacy_ids(store, current, atom=False, base_url=url) == 0
    assert sorted(doc["_id"] for doc in store.jobs.find()) == sorted(item.id for item in current)
    outcome = write_items(store, "run-new", url, fetched + timedelta(seconds=1), current)
    assert outcome.counts == {"updated": 1, "unchanged": 1}  # its stored link is absolute now
