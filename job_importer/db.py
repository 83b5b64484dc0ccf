"""MongoDB access: one client per process, the collections we use and their indexes."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from pymongo import ASCENDING, DESCENDING, IndexModel, MongoClient
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
    """The process-wide store with the indexes its queries rely on: what every process opens.

    The indexes are ensured once per process and database, however often it is opened (a CLI
    command opens it for the registry and again for the import)."""
    store = get_store(settings)
    key = (settings.mongodb_url, settings.mongodb_db)
    if key not in _INDEXES_ENSURED:
        ensure_indexes(store)
        _INDEXES_ENSURED.add(key)
    return store


_INDEXES_ENSURED: set[tuple[str, str]] = set()


def ensure_indexes(store: Store) -> None:
    """Create the indexes the queries rely on; cheap to repeat (one command per collection)."""
    for collection, indexes in _INDEXES.items():
        store.db[collection].create_indexes(indexes)


_INDEXES: dict[str, list[IndexModel]] = {
    JOBS: [
        IndexModel([("source", ASCENDING), ("published_at", DESCENDING)]),
        IndexModel([("company", ASCENDING)]),
        IndexModel([("updated_at", DESCENDING)]),
        # The end of a run (lifecycle.py): a feed's active listings by last sighting or expiry
        # date, and the listings one run expired or brought back (sparse: most have neither).
        IndexModel([("feed_url", ASCENDING), ("status", ASCENDING), ("last_seen_at", ASCENDING)]),
        IndexModel([("feed_url", ASCENDING), ("status", ASCENDING), ("expires_at", ASCENDING)]),
        IndexModel([("expired_run", ASCENDING)], sparse=True),
        IndexModel([("reactivated_run", ASCENDING)], sparse=True),
    ],
    IMPORT_LOGS: [
        IndexModel([("feed_url", ASCENDING), ("created_at", DESCENDING)]),
        IndexModel([("status", ASCENDING), ("created_at", DESCENDING)]),
        IndexModel([("batch_id", ASCENDING)]),
        IndexModel([("created_at", DESCENDING)]),
    ],
    FAILED_ITEMS: [IndexModel([("run_id", ASCENDING)]), IndexModel([("created_at", DESCENDING)])],
    # The registry: one feed per URL; a run's end finds its feed by the redacted URL it records.
    FEEDS: [
        IndexModel([("url", ASCENDING)], unique=True),
        IndexModel([("feed_url", ASCENDING)]),
        IndexModel([("enabled", ASCENDING)]),
        IndexModel([("managed_by", ASCENDING)]),
    ],
}
