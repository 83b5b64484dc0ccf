"""Parsing feed bytes into parser-neutral entries.

feedparser is the format-robust path (RSS 0.9x/1.0/2.0, Atom, broken XML). Every parser yields
:class:`RawEntry` values; normalisation works on those only, so a faster parser can slot in.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import feedparser
from feedparser.namespaces._base import Namespace


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


def parse_with_feedparser(body: bytes) -> ParsedFeed:
    """Parse any RSS/Atom variant. Raises FeedParseError when nothing feed-like is found."""
    parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    entries = [_raw_entry(entry) for entry in parsed.entries]
    if not parsed.get("version") and not entries:
        raise FeedParseError(_why_not_a_feed(body, parsed))
    warning = None
    if parsed.bozo:
        warning = (
            f"malformed feed ({_describe(parsed.get('bozo_exception'))}); {len(entries)} entries recovered"
        )
    return ParsedFeed(entries=entries, format=parsed.get("version") or "unknown", warning=warning)


def _raw_entry(entry: Any) -> RawEntry:
    content = entry.get("content") or []
    media = entry.get("media_content") or entry.get("media_thumbnail") or []
    published = entry.get("published_parsed") or entry.get("updated_parsed")
    return RawEntry(
        guid=_text(entry.get("rss_guid")),
        link=_text(entry.get("link")),
        id=_text(entry.get("id")),
        title=_text(entry.get("title")),
        description=_text(entry.get("summary")),
        content=_text(content[0].get("value")) if content else "",
        published=datetime.fromtimestamp(calendar.timegm(published), UTC) if published else None,
        image_url=_text(media[0].get("url")) if media else "",
        company=_text(entry.get("job_listing_company")),
        location=_text(entry.get("job_listing_location")),
        job_type=_text(entry.get("job_listing_job_type")),
        categories=[_text(tag.get("term")) for tag in entry.get("tags") or [] if tag.get("term")],
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
