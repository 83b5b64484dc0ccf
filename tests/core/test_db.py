"""The store's indexes: created by opening it, with what the queries and the registry rely on."""

from __future__ import annotations

import pytest
from pymongo.errors import DuplicateKeyError

from job_importer.db import Store


def test_opening_the_store_creates_every_index(store: Store) -> None:
    jobs = store.jobs.index_information()
    lifecycle = [("feed_url", 1), ("status", 1), ("last_seen_at", 1)]
    assert any(index["key"] == lifecycle for index in jobs.values())
    assert {"expired_run_1", "reactivated_run_1", "company_1"} <= set(jobs)
    assert jobs["expired_run_1"].get("sparse") is True
    assert {"batch_id_1", "created_at_-1"} <= set(store.runs.index_information())
    assert "run_id_1" in store.failed_items.index_information()
    assert store.feeds.index_information()["url_1"].get("unique") is True


def test_the_registry_holds_one_feed_per_url(store: Store) -> None:
    store.feeds.insert_one({"url": "http://127.0.0.1:1/feed.xml"})
    with pytest.raises(DuplicateKeyError):
        store.feeds.insert_one({"url": "http://127.0.0.1:1/feed.xml"})
