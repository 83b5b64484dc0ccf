"""Reading JSON sources: the document, its list of items, and one RawEntry per item.

Each JSON format is a :class:`JsonFormat`: where its items are, the values it takes from one
item, and the few top-level members it reads besides. The whole-document path here
(:meth:`JsonFormat.read`) and the streamed one (:mod:`services.fetcher.streaming`, an item at a
time) both go through it, so they produce the same entries.

JSON is decoded as RFC 8259 says (UTF-8, or UTF-16/32 by their BOM/pattern); a Content-Type
charset is not consulted. An item that is not an object becomes a failed item with its reason,
never the end of the feed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from job_importer.settings import FeedConfig
from services.fetcher.entries import FeedParseError, ParsedFeed, RawEntry
from services.fetcher.formats.detect import describe_json_type
from services.fetcher.formats.document import Document
from services.fetcher.formats.entry import raw_entry_from
from services.fetcher.formats.mapping import mapped, resolve

#: An adapter's default mapping: one JSON item -> {job field: value}.
ToValues = Callable[[dict[str, Any]], dict[str, Any]]
#: The mapping for one document, from its top-level members and the response.
ValuesFor = Callable[[Mapping[str, Any], Document], ToValues]


def _every(item: object) -> bool:
    return True


@dataclass(frozen=True)
class JsonFormat:
    """One JSON source format, for both ways of reading it.

    ``values`` is given the document's top-level members (an empty mapping when the document
    is not an object); it may read only those named in ``context``, which a streamed document
    must have before its items. ``format_name`` may read those in ``naming`` (anywhere).
    """

    name: str  # the feed's format
    what: str  # what its document is, for errors: "a Greenhouse job board"
    pointer: str  # where its items are, unless the feed's ``items`` says (JSON pointer; "" the document)
    values: ValuesFor
    keep: Callable[[Any], bool] = _every  # the items that are entries at all
    context: frozenset[str] = frozenset()
    naming: frozenset[str] = frozenset()
    object_only: bool = False  # the document must be an object, whatever the pointer
    needs_fields: bool = False  # the feed's ``fields`` are its only mapping
    version: Callable[[Mapping[str, Any]], str] | None = field(default=None)

    def format_name(self, top: Mapping[str, Any]) -> str:
        """The document's format for the run record ("greenhouse", "jsonfeed11")."""
        return self.version(top) if self.version is not None else self.name

    def check(self, feed: FeedConfig) -> None:
        """A configuration this format can't read at all, whatever the document."""
        if self.needs_fields and not feed.fields:
            raise FeedParseError(f'format "{self.name}" needs the feed\'s fields (job field -> JSON pointer)')

    def not_an_object(self, found: object) -> FeedParseError:
        return FeedParseError(f"not {self.what}: the document is a {type(found).__name__}, not an object")

    def read(self, document: Document, feed: FeedConfig) -> ParsedFeed:
        """The whole document's entries."""
        self.check(feed)
        data = load(document)
        if self.object_only and not isinstance(data, dict):
            raise self.not_an_object(data)
        items = item_list(data, feed.items or self.pointer, document, self.what)
        top = data if isinstance(data, dict) else {}
        to_values = self.values(top, document)
        found = [entry(item, feed, to_values) for item in items if self.keep(item)]
        return ParsedFeed(entries=found, format=self.format_name(top))


def fixed(to_values: ToValues) -> ValuesFor:
    """The mapping of a format whose items need nothing from the rest of the document."""
    return lambda top, document: to_values


def load(document: Document) -> Any:
    try:
        return json.loads(document.body)
    except ValueError as exc:
        raise FeedParseError(f"not well-formed JSON ({exc}); {describe_json_type(document)}") from None
    except RecursionError:
        raise FeedParseError(f"JSON nested too deeply to read; {describe_json_type(document)}") from None


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


def entry(item: Any, feed: FeedConfig, to_values: ToValues) -> RawEntry:
    """One item's RawEntry: the adapter's values, then the feed's own mapping over them."""
    if not isinstance(item, dict):
        return RawEntry(problem=f"item is {type(item).__name__}, not an object")
    try:
        values = to_values(item)
        values.update(mapped(item, feed.fields))
        return raw_entry_from(values)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:  # a shape we don't expect
        return RawEntry(problem=f"unreadable item ({type(exc).__name__}: {exc})")


def entries(items: list[Any], feed: FeedConfig, to_values: ToValues) -> list[RawEntry]:
    return [entry(item, feed, to_values) for item in items]


def parsed(items: list[Any], feed: FeedConfig, to_values: ToValues, format_name: str) -> ParsedFeed:
    return ParsedFeed(entries=entries(items, feed, to_values), format=format_name)
