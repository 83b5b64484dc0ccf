"""Parser-neutral feed entries: what every parser yields and normalisation reads.

Both parse paths (feedparser in :mod:`.parse`, lxml in :mod:`.fastparse`) produce
:class:`ParsedFeed` values of :class:`RawEntry`; they share :func:`raw_entry`, which maps a
feedparser-shaped entry dict onto a RawEntry, so the two can only differ in what they read,
never in how it is mapped. Nothing here imports a parser.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


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
    job_type: str = ""  # the employment type
    categories: list[str] = field(default_factory=list)
    extra: dict[str, str] = field(default_factory=dict)
    # Structured job fields (job-board XML, ATS APIs); the normaliser validates them.
    country: str = ""
    region: str = ""
    city: str = ""
    postal_code: str = ""
    remote: str | bool | None = None  # a flag or a phrase ("Fully remote", "hybrid")
    salary: str = ""
    salary_min: object = None  # a number or its text
    salary_max: object = None
    salary_currency: str = ""
    salary_period: str = ""
    apply_url: str = ""
    expires: datetime | None = None
    problem: str = ""  # why the adapter could not read this item: it becomes a failed item


@dataclass
class ParsedFeed:
    entries: list[RawEntry]
    format: str  # e.g. "rss20", "atom10", "jobxml", "greenhouse"
    warning: str | None = None  # set when a malformed feed was parsed anyway
    reader: str = "rss"  # the source-format adapter that read it (services/fetcher/formats)


class FeedParseError(Exception):
    """The bytes are not a feed we can read."""


def first_text(entry: Mapping[str, Any], *keys: str) -> str:
    """The first non-empty text among ``keys`` of a feedparser-shaped entry."""
    for key in keys:
        value = _text(entry.get(key))
        if value:
            return value
    return ""


# Entry keys that map onto RawEntry fields or carry nothing worth keeping in `extra`.
_CONSUMED = frozenset(
    {
        "id", "guidislink", "rss_guid", "link", "links", "title", "title_detail", "summary",
        "summary_detail", "content", "published", "published_parsed", "updated", "updated_parsed",
        "media_content", "media_thumbnail", "tags", "job_listing_company", "job_listing_location",
        "job_listing_job_type",
    }
)  # fmt: skip
# Read into fields but still kept in `extra` as before (author, location, region), so listings
# stored by earlier versions keep their content hash.


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
        # Stack Overflow Jobs: <a10:author><a10:name>, <location>; We Work Remotely: <region>.
        company=_text(get("job_listing_company")) or _author_name(get("author_detail")),
        location=first_text(entry, "job_listing_location", "location", "region"),
        job_type=_text(get("job_listing_job_type")),
        categories=[_text(tag.get("term")) for tag in get("tags") or () if tag.get("term")],
        extra={
            key: value
            for key, value in entry.items()
            if key not in _CONSUMED and isinstance(value, str) and not key.endswith("_detail")
        },
    )


def _author_name(detail: object) -> str:
    return _text(detail.get("name")) if isinstance(detail, Mapping) else ""


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""
