"""Turning parser-neutral entries into validated job items, or into failures with a reason."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from job_importer.contract import (
    EXTRA_KEY_CHARS,
    MAX_EXTRA_KEY_CHARS,
    MAX_EXTRA_KEYS,
    MAX_EXTRA_VALUE_CHARS,
    JobItem,
    content_hash,
    describe,
    job_id,
)
from job_importer.failed_items import ItemFailure
from job_importer.settings import FeedConfig
from services.fetcher import jobfields
from services.fetcher.entries import RawEntry

# C0 controls except tab/newline/carriage return, DEL, C1 controls, lone surrogates, non-characters.
_UNSAFE_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_UNSAFE_ASCII = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])  # its ASCII part
# Keys of `extra` become MongoDB field names: no "$" prefixes, no "." paths.
_UNSAFE_KEY_CHARS = re.compile(f"[^{EXTRA_KEY_CHARS}]")
RAW_EXCERPT = 500


@dataclass
class Normalized:
    items: list[JobItem]
    failures: list[ItemFailure]
    duplicates: int  # entries whose id appeared earlier in the same feed


def clean(value: str) -> str:
    """Text without control characters or surrogates, trimmed."""
    if value.isascii():  # most text: the same removal as bytes, many times faster than the regex
        raw = value.encode("ascii")
        kept = raw.translate(None, _UNSAFE_ASCII)
        if len(kept) != len(raw):
            value = kept.decode("ascii")
        return value.strip()
    return _UNSAFE_CHARS.sub("", value).strip()


def safe_key(key: str) -> str:
    """A MongoDB-safe field name for a feed field: operators and paths can't be injected."""
    return _UNSAFE_KEY_CHARS.sub("_", key)[:MAX_EXTRA_KEY_CHARS] or "_"


def normalize(entries: Iterable[RawEntry], feed: FeedConfig) -> Normalized:
    """Validate every entry of one feed; the first occurrence of an id wins, later ones are duplicates."""
    normalizer = Normalizer(feed)
    items = [item for entry in entries if (item := normalizer.add(entry)) is not None]
    return Normalized(items=items, failures=normalizer.failures, duplicates=normalizer.duplicates)


class Normalizer:
    """:func:`normalize` one entry at a time, for entries streamed as they are read: the ids seen
    so far are all it keeps besides the failures."""

    def __init__(self, feed: FeedConfig) -> None:
        self.feed = feed
        self.failures: list[ItemFailure] = []
        self.seen: set[str] = set()
        self.duplicates = 0
        self.entries = 0

    def add(self, entry: RawEntry) -> JobItem | None:
        """The entry's item, or None for a failure (kept in ``failures``) or a duplicate."""
        result = normalize_entry(entry, self.feed, self.entries)
        self.entries += 1
        if isinstance(result, ItemFailure):
            self.failures.append(result)
            return None
        if result.id in self.seen:
            self.duplicates += 1
            return None
        self.seen.add(result.id)
        return result


def normalize_entry(entry: RawEntry, feed: FeedConfig, position: int) -> JobItem | ItemFailure:
    if entry.problem:
        return _failure(entry, position, entry.problem)
    guid = clean(entry.guid) or clean(entry.link) or clean(entry.id)
    if not guid:
        return _failure(entry, position, "entry has no guid, link or id to identify it")
    fields: dict[str, Any] = {
        "title": clean(entry.title),
        "link": clean(entry.link) or None,
        "company": clean(entry.company) or None,
        "location": clean(entry.location) or None,
        "job_type": clean(entry.job_type) or None,
        "category": next((clean(c) for c in entry.categories if clean(c)), None) or feed.category,
        "description": clean(entry.description) or None,
        "content": clean(entry.content) or None,
        "image_url": clean(entry.image_url) or None,
        "published_at": entry.published,
        "country": clean(entry.country) or None,
        "region": clean(entry.region) or None,
        "city": clean(entry.city) or None,
        "postal_code": clean(entry.postal_code) or None,
        "remote": jobfields.workplace(entry.remote),
        "salary": clean(entry.salary) or None,
        "salary_min": jobfields.amount(entry.salary_min),
        "salary_max": jobfields.amount(entry.salary_max),
        "salary_currency": jobfields.currency(entry.salary_currency),
        "salary_period": jobfields.salary_period(entry.salary_period),
        "apply_url": clean(entry.apply_url) or None,
        "expires_at": entry.expires,
        "extra": _extra(entry.extra),
    }
    if not fields["title"]:
        return _failure(entry, position, "entry has no title", guid)
    if fields["company"] is None:
        fields["company"] = jobfields.company_from_title(fields["title"], fields["link"])
    try:
        return JobItem(
            id=job_id(feed.source, guid),
            source=feed.source,
            guid=guid,
            content_hash=content_hash(fields),
            **fields,
        )
    except ValidationError as exc:
        return _failure(entry, position, describe(exc), guid)


def _extra(extra: dict[str, str]) -> dict[str, str]:
    kept: dict[str, str] = {}
    for key in sorted(extra)[:MAX_EXTRA_KEYS]:
        value = clean(extra[key])
        if value:
            kept[safe_key(key)] = value[:MAX_EXTRA_VALUE_CHARS]
    return kept


def _failure(entry: RawEntry, position: int, reason: str, guid: str | None = None) -> ItemFailure:
    excerpt = " | ".join(part for part in (entry.title, entry.link, entry.guid, entry.description) if part)
    return ItemFailure(key=f"entry-{position}", reason=reason, guid=guid, raw=clean(excerpt)[:RAW_EXCERPT])
