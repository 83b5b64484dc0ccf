"""MongoDB access: one client per process, the collections we use and their indexes."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from pymongo import ASCENDING, DESCENDING, MongoClient
from pymongo.collection import Collection
from pymongo.database import Database

from job_importer.settings import Settings

JOBS = "jobs"
IMPORT_LOGS = "import_logs"  # one record per feed per run, as in the original design
FAILED_ITEMS = "failed_items"  # the item-level dead letter
FEED_STATE = "feed_state"  # validators (ETag / Last-Modified) per feed
FEEDS = "feeds"  # the feed registry (feed_registry.py)


@dataclass(frozen=True)
class Store:
    """The collections of one database."""

    db: Database

    @property
    def jobs(self) -> Collection:
        return self.db[JOBS]

    @property
    def runs(self) -> Collection:
        return self.db[IMPORT_LOGS]

    @property
    def failed_items(self) -> Collection:
        return self.db[FAILED_ITEMS]

    @property
    def feed_state(self) -> Collection:
        return self.db[FEED_STATE]

    @property
    def feeds(self) -> Collection:
        return self.db[FEEDS]


@cache
def _client(url: str, timeout_ms: int) -> MongoClient:
    return MongoClient(url, tz_aware=True, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms)


def get_store(settings: Settings) -> Store:
    """The process-wide store for these settings (the client is created once and pooled)."""
    return Store(_client(settings.mongodb_url, settings.mongodb_timeout_ms)[settings.mongodb_db])


def open_store(settings: Settings) -> Store:
    """The process-wide store with the indexes its queries rely on: what every process opens."""
    store = get_store(settings)
    ensure_indexes(store)
    return store


def ensure_indexes(store: Store) -> None:
    """Create the indexes the queries rely on; cheap to repeat."""
    store.jobs.create_index([("source", ASCENDING), ("published_at", DESCENDING)])
    store.jobs.create_index([("company", ASCENDING)])
    store.jobs.create_index([("updated_at", DESCENDING)])
    # The end of a run (lifecycle.py): a feed's active listings by last sighting or expiry date,
    # and the listings one run expired or brought back (sparse: most have neither).
    store.jobs.create_index([("feed_url", ASCENDING), ("status", ASCENDING), ("last_seen_at", ASCENDING)])
    store.jobs.create_index([("feed_url", ASCENDING), ("status", ASCENDING), ("expires_at", ASCENDING)])
    store.jobs.create_index([("expired_run", ASCENDING)], sparse=True)
    store.jobs.create_index([("reactivated_run", ASCENDING)], sparse=True)
    store.runs.create_index([("feed_url", ASCENDING), ("created_at", DESCENDING)])
    store.runs.create_index([("status", ASCENDING), ("created_at", DESCENDING)])
    store.runs.create_index([("batch_id", ASCENDING)])
    store.runs.create_index([("created_at", DESCENDING)])
    store.failed_items.create_index([("run_id", ASCENDING)])
    store.failed_items.create_index([("created_at", DESCENDING)])
    # The registry: one feed per URL; a run's end finds its feed by the redacted URL it records.
    store.feeds.create_index([("url", ASCENDING)], unique=True)
    store.feeds.create_index([("feed_url", ASCENDING)])
    store.feeds.create_index([("enabled", ASCENDING)])
    store.feeds.create_index([("managed_by", ASCENDING)])
