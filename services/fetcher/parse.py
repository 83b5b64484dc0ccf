"""Parsing feed bytes into parser-neutral entries.

feedparser is the format-robust path (RSS 0.9x/1.0/2.0, Atom, broken XML); the fast path
(:mod:`.fastparse`, lxml) reads well-formed RSS 2.0 and Atom to the same result, many times
faster. :func:`parse_feed` chooses. Every parser yields :class:`RawEntry` values; normalisation
works on those only.
"""

from __future__ import annotations

import calendar
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import feedparser
from feedparser.namespaces._base import Namespace

log = logging.getLogger(__name__)


@dataclass
class RawEntry:
    """One feed entry as found, before validation. Empty strings mean "absent"."""

    guid: str = ""
    link: str = ""
    id: str = ""
    title: str = ""
    description: str = ""
    content: str = ""
    published: datetime | None = None
    image_url: str = ""
    company: str = ""
    location: str = ""
    job_type: str = ""
    categories: list[str] = field(default_factory=list)
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class ParsedFeed:
    entries: list[RawEntry]
    format: str  # e.g. "rss20", "atom10"
    warning: str | None = None  # set when a malformed feed was parsed anyway


class FeedParseError(Exception):
    """The bytes are not a feed we can read."""


# feedparser files both RSS <guid> and <id> under entry.id, the later element winning. Keep the
# <guid> text on its own so the identity rule (guid, else link, else id) is explicit.
def _end_guid(self: Any) -> None:
    value = self.pop("id")
    self._save("guidislink", self.guidislink and "link" not in self._get_context())
    if self.guidislink:
        self._save("link", value)
    if self.inentry and value:
        self._get_context()["rss_guid"] = value


setattr(Namespace, "_end_guid", _end_guid)  # noqa: B010 (a patch, on purpose)

# Entry keys that map onto RawEntry fields or carry nothing worth keeping in `extra`.
_CONSUMED = frozenset(
    {
        "id", "guidislink", "rss_guid", "link", "links", "title", "title_detail", "summary",
        "summary_detail", "content", "published", "published_parsed", "updated", "updated_parsed",
        "media_content", "media_thumbnail", "tags", "job_listing_company", "job_listing_location",
        "job_listing_job_type",
    }
)  # fmt: skip


def parse_feed(body: bytes, *, fast: bool = True) -> ParsedFeed:
    """The fast path when it is sure to read the feed as feedparser would, feedparser otherwise."""
    if fast:
        from .fastparse import parse_fast  # it builds on this module's types

        try:
            parsed = parse_fast(body)
        except Exception:  # a bug there must cost speed, never the feed
            log.exception("the fast parse path failed; parsing with feedparser instead")
            parsed = None
        if parsed is not None:
            return parsed
    return parse_with_feedparser(body)


def parse_with_feedparser(body: bytes) -> ParsedFeed:
    """Parse any RSS/Atom variant. Raises FeedParseError when nothing feed-like is found."""
    parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    entries = [raw_entry(entry) for entry in parsed.entries]
    if not parsed.get("version") and not entries:
        raise FeedParseError(_why_not_a_feed(body, parsed))
    warning = None
    if parsed.bozo:
        warning = (
            f"malformed feed ({_describe(parsed.get('bozo_exception'))}); {len(entries)} entries recovered"
        )
    return ParsedFeed(entries=entries, format=parsed.get("version") or "unknown", warning=warning)


def raw_entry(entry: Mapping[str, Any]) -> RawEntry:
    """A RawEntry from a feedparser entry, or from the fast path's dict of the same shape (whose
    dates are datetimes already)."""
    get = entry.get
    content = get("content")
    media = get("media_content") or get("media_thumbnail")
    published = get("published_parsed") or get("updated_parsed")
    if isinstance(published, time.struct_time):
        published = datetime.fromtimestamp(calendar.timegm(published), UTC)
    elif not isinstance(published, datetime):
        published = None  # e.g. the text of a stray <published_parsed> element
    return RawEntry(
        guid=_text(get("rss_guid")),
        link=_text(get("link")),
        id=_text(get("id")),
        title=_text(get("title")),
        description=_text(get("summary")),
        content=_text(content[0].get("value")) if content else "",
        published=published,
        image_url=_text(media[0].get("url")) if media else "",
        company=_text(get("job_listing_company")),
        location=_text(get("job_listing_location")),
        job_type=_text(get("job_listing_job_type")),
        categories=[_text(tag.get("term")) for tag in get("tags") or () if tag.get("term")],
        extra={
            key: value
            for key, value in entry.items()
            if key not in _CONSUMED and isinstance(value, str) and not key.endswith("_detail")
        },
    )


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _describe(exc: object) -> str:
    return f"{type(exc).__name__}: {exc}" if exc is not None else "unknown error"


def _why_not_a_feed(body: bytes, parsed: Any) -> str:
    head = body[:2048].lstrip().lower()
    if not head:
        return "empty response"
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return "an HTML page, not an RSS/Atom feed"
    return f"not an RSS/Atom feed ({_describe(parsed.get('bozo_exception'))})"
