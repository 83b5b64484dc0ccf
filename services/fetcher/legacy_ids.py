"""Moving listings stored under an id an earlier version gave them to the id they have now.

Two rules changed how RSS/Atom entries are identified:

* Atom entries used to be identified like RSS items (guid, else link, else id), so an entry
  with both a link and an ``atom:id`` was stored as ``{source}#{link}``; now ``atom:id`` comes
  first (RFC 4287 §4.2.6).
* Relative links used to be kept as written (``/jobs/7``) and, for entries without a guid,
  became the id; now they are resolved against the response's URL (``https://host/jobs/7``).

Without a move, the first run after the upgrade would insert such entries again under their
new ids and leave the old documents behind: one entry, two documents. The stored documents
don't keep what the old id was computed from (the ``atom:id``, the link as written), so the move
can't be done from the database alone: it runs where both ids are known, in the fetch of an
RSS/Atom feed, before its items are sent. It is idempotent and cheap once done (one indexed
``$in`` query per 500 candidate ids, finding nothing): a document found under an old id is
copied to the new one and deleted; if the new one exists already (an import ran before the
move), the old one is the duplicate and is deleted. A crash between the two steps leaves both,
which the next run finishes the same way.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from contextlib import suppress
from urllib.parse import urlsplit

from pymongo.errors import DuplicateKeyError

from job_importer.contract import JobItem, job_id
from job_importer.db import Store

BATCH = 500


def legacy_ids(item: JobItem, *, atom: bool, base_url: str = "") -> list[str]:
    """The ids earlier versions may have stored this RSS/Atom item under (none when the same)."""
    parts = urlsplit(base_url)
    origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""

    def as_written(link: str) -> list[str]:
        """The link itself, and the path-absolute form it may have had in the feed."""
        forms = [link]
        if origin and link.startswith(origin + "/"):
            forms.append(link[len(origin) :])
        return forms

    found: list[str] = []
    if atom and item.link and item.link != item.guid:
        found += as_written(item.link)  # identified by its link before atom:id came first
    if item.link and item.guid == item.link:
        found += as_written(item.link)[1:]  # identified by its link as written
    return [job_id(item.source, guid) for guid in found if guid != item.guid]


def adopt_legacy_ids(store: Store, items: Iterable[JobItem], *, atom: bool, base_url: str = "") -> int:
    """Re-key the documents stored under the items' legacy ids; the number of documents moved."""
    legacy = LegacyIds(atom=atom, base_url=base_url)
    current = set()
    for item in items:
        legacy.add(item)
        current.add(item.id)
    return legacy.adopt(store, current)


class LegacyIds:
    """The legacy ids of a feed's items, collected an item at a time (for streamed feeds)."""

    def __init__(self, *, atom: bool, base_url: str = "") -> None:
        self.atom = atom
        self.base_url = base_url
        self.by_legacy: dict[str, tuple[str, str]] = {}  # legacy id -> (id, guid) now

    def add(self, item: JobItem) -> None:
        for old in legacy_ids(item, atom=self.atom, base_url=self.base_url):
            self.by_legacy.setdefault(old, (item.id, item.guid))

    def adopt(self, store: Store, current: set[str]) -> int:
        """Move the documents; ``current``: the ids of all the feed's items, never touched."""
        by_legacy = {old: now for old, now in self.by_legacy.items() if old not in current}
        moved = 0
        for batch in itertools.batched(by_legacy, BATCH, strict=False):
            for doc in store.jobs.find({"_id": {"$in": list(batch)}}):
                new_id, guid = by_legacy[doc["_id"]]
                with suppress(DuplicateKeyError):  # the new document exists: the legacy one is the duplicate
                    store.jobs.insert_one({**doc, "_id": new_id, "guid": guid})
                store.jobs.delete_one({"_id": doc["_id"]})
                moved += 1
        return moved
