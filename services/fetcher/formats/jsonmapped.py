"""Any JSON document, read with the feed's own mapping: ``items`` (a JSON pointer to the list
of items; the document itself when it is a list) and ``fields`` (job field -> JSON pointer)."""

from __future__ import annotations

from typing import Any

from job_importer.settings import FeedConfig
from services.fetcher.entries import FeedParseError, ParsedFeed
from services.fetcher.formats import jsonitems
from services.fetcher.formats.document import Document


def read(document: Document, feed: FeedConfig) -> ParsedFeed:
    if not feed.fields:
        raise FeedParseError('format "json" needs the feed\'s fields (job field -> JSON pointer)')
    data = jsonitems.load(document)
    items = jsonitems.item_list(data, feed.items or "", document, "a list of items")

    def nothing(item: dict[str, Any]) -> dict[str, Any]:
        return {}

    return jsonitems.parsed(items, feed, nothing, "json")
