"""Parsing feed bytes into parser-neutral entries.

feedparser is the format-robust path (RSS 0.9x/1.0/2.0, Atom, broken XML); the fast path
(:mod:`.fastparse`, lxml) reads well-formed RSS 2.0 and Atom to the same result, many times
faster. :func:`parse_feed` chooses. Every parser yields :mod:`.entries` values; normalisation
works on those only.
"""

from __future__ import annotations

import logging
from typing import Any

import feedparser
from feedparser.namespaces._base import Namespace

from services.fetcher.entries import FeedParseError, ParsedFeed, raw_entry
from services.fetcher.fastparse import parse_fast
from services.fetcher.xmlguard import check_entity_expansion

log = logging.getLogger(__name__)


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


def parse_feed(body: bytes, *, fast: bool = True) -> ParsedFeed:
    """The fast path when it is sure to read the feed as feedparser would, feedparser otherwise."""
    if fast:
        try:
            parsed = parse_fast(body)
        except FeedParseError:  # refused, as feedparser would refuse it (xmlguard)
            raise
        except Exception:  # a bug there must cost speed, never the feed
            log.exception("the fast parse path failed; parsing with feedparser instead")
            parsed = None
        if parsed is not None:
            return parsed
    return parse_with_feedparser(body)


def parse_with_feedparser(body: bytes) -> ParsedFeed:
    """Parse any RSS/Atom variant. Raises FeedParseError when nothing feed-like is found, or
    when its internal entities would expand too far (expat and the loose parser expand them)."""
    check_entity_expansion(body)
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


def _describe(exc: object) -> str:
    return f"{type(exc).__name__}: {exc}" if exc is not None else "unknown error"


def _why_not_a_feed(body: bytes, parsed: Any) -> str:
    head = body[:2048].lstrip().lower()
    if not head:
        return "empty response"
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return "an HTML page, not an RSS/Atom feed"
    return f"not an RSS/Atom feed ({_describe(parsed.get('bozo_exception'))})"
