"""Reading JSON sources: the document, its list of items, and one RawEntry per item.

JSON is decoded as RFC 8259 says (UTF-8, or UTF-16/32 by their BOM/pattern); a Content-Type
charset is not consulted. An item that is not an object becomes a failed item with its reason,
never the end of the feed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from job_importer.settings import FeedConfig
from services.fetcher.entries import FeedParseError, ParsedFeed, RawEntry
from services.fetcher.formats.detect import describe_json_type
from services.fetcher.formats.document import Document
from services.fetcher.formats.entry import raw_entry_from
from services.fetcher.formats.mapping import mapped, resolve

#: An adapter's default mapping: one JSON item -> {job field: value}.
ToValues = Callable[[dict[str, Any]], dict[str, Any]]


def load(document: Document) -> Any:
    try:
        return json.loads(document.body)
    except ValueError as exc:
        raise FeedParseError(f"not well-formed JSON ({exc}); {describe_json_type(document)}") from None


def item_list(data: Any, pointer: str, document: Document, what: str) -> list[Any]:
    """The list at ``pointer`` (the whole document for ""), or a clear error naming ``what``."""
    items = resolve(data, pointer) if pointer else data
    if not isinstance(items, list):
        found = (
            f"keys: {', '.join(sorted(map(str, data))[:8])}"
            if isinstance(data, dict)
            else type(data).__name__
        )
        raise FeedParseError(
            f"not {what}: no list of items at {pointer or 'the top level'!r} ({found}; "
            f"{describe_json_type(document)})"
        )
    return items


def entries(items: list[Any], feed: FeedConfig, to_values: ToValues) -> list[RawEntry]:
    """One RawEntry per item: the adapter's values, then the feed's own mapping over them."""
    found = []
    for item in items:
        if not isinstance(item, dict):
            found.append(RawEntry(problem=f"item is {type(item).__name__}, not an object"))
            continue
        try:
            values = to_values(item)
            values.update(mapped(item, feed.fields))
            found.append(raw_entry_from(values))
        except (
            KeyError,
            IndexError,
            TypeError,
            ValueError,
            AttributeError,
        ) as exc:  # a shape we don't expect
            found.append(RawEntry(problem=f"unreadable item ({type(exc).__name__}: {exc})"))
    return found


def parsed(items: list[Any], feed: FeedConfig, to_values: ToValues, format_name: str) -> ParsedFeed:
    return ParsedFeed(entries=entries(items, feed, to_values), format=format_name)
