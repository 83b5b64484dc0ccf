"""What the fetcher remembers about a feed between runs: the validators of its last full fetch.

The server's ETag and Last-Modified are sent back on the next fetch (a conditional GET), so an
unchanged feed costs a 304 and nothing else. They are stored per feed (keyed by the redacted URL,
so no credential is stored) in ``feed_state``, and only for a fetch whose items were all sent:
a 304 must never stand for items that no run accounted for.
"""

from __future__ import annotations

from job_importer.db import Store
from job_importer.history import now
from job_importer.redact import redact
from services.fetcher.download import Validators


def load_validators(store: Store, url: str) -> Validators:
    doc = store.feed_state.find_one({"_id": redact(url)}) or {}
    return Validators(etag=doc.get("etag"), last_modified=doc.get("last_modified"))


def save_validators(store: Store, url: str, validators: Validators) -> None:
    store.feed_state.update_one(
        {"_id": redact(url)},
        {"$set": {"etag": validators.etag, "last_modified": validators.last_modified, "updated_at": now()}},
        upsert=True,
    )
