"""Moving listings stored under an Atom entry's link to the id its ``atom:id`` gives it now.

Atom entries used to be identified like RSS items (guid, else link, else id), so an entry with
both a link and an ``atom:id`` was stored as ``{source}#{link}``; now ``atom:id`` comes first
(RFC 4287 §4.2.6). Without a move, the first run after the upgrade would insert every such
entry again under its new id and leave the old document behind: one entry, two documents.

The stored documents don't keep the ``atom:id`` (it was the part of the entry we didn't use),
so the move can't be computed from the database alone: it runs where both ids are known, in
the fetch of an Atom feed, before its items are sent. It is idempotent and cheap once done
(one indexed ``$in`` query per 500 items that finds nothing): a document found under the old
id is copied to the new one and deleted; if the new one exists already (an import ran before
the move), the old one is the duplicate and is deleted. A crash between the two steps leaves
both, which the next run finishes the same way.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from contextlib import suppress

from pymongo.errors import DuplicateKeyError

from job_importer.contract import JobItem, job_id
from job_importer.db import Store

BATCH = 500


def legacy_id(item: JobItem) -> str | None:
    """The id the old rule (link before ``atom:id``) gave this Atom item; None when the same."""
    if item.link and item.link != item.guid:
        return job_id(item.source, item.link)
    return None


def adopt_legacy_ids(store: Store, items: Iterable[JobItem]) -> int:
    """Re-key the documents stored under the items' legacy ids; the number of documents moved."""
    items = list(items)
    current = {item.id for item in items}
    by_legacy: dict[str, JobItem] = {}
    for item in items:
        old = legacy_id(item)
        if old is not None and old not in current:  # never touch another entry's document
            by_legacy.setdefault(old, item)
    moved = 0
    for batch in itertools.batched(by_legacy, BATCH, strict=False):
        for doc in store.jobs.find({"_id": {"$in": list(batch)}}):
            item = by_legacy[doc["_id"]]
            with suppress(DuplicateKeyError):  # the new document exists: the legacy one is the duplicate
                store.jobs.insert_one({**doc, "_id": item.id, "guid": item.guid})
            store.jobs.delete_one({"_id": doc["_id"]})
            moved += 1
    return moved
