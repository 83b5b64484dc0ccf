"""Parsing feed bytes into parser-neutral entries.

feedparser is the format-robust path (RSS 0.9x/1.0/2.0, Atom, broken XML); the fast path
(:mod:`.fastparse`, lxml) reads well-formed RSS 2.0 and Atom to the same result, many times
faster. :func:`parse_feed` chooses. Every parser yields :mod:`.entries` values; normalisation
works on those only.

An entry's ``guid`` is its own permanent identity, which normalisation uses first: RSS's
``<guid>``, and for Atom its ``atom:id`` (RFC 4287 §4.2.6), set by :func:`with_atom_identity`
whichever path read the feed (so entries sharing a link stay distinct).

Both paths are given what the HTTP response said: the charset of its ``Content-Type`` (which
wins over the XML declaration, RFC 7303) and its final URL, after redirects, against which
relative links resolve (and ``xml:base`` on top of it, which feedparser handles).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import feedparser
from feedparser.namespaces._base import Namespace

from services.fetcher.entries import FeedParseError, ParsedFeed, raw_entry
from services.fetcher.fastparse import parse_fast
from services.fetcher.mediatype import xml_charset
from services.fetcher.xmlguard import check_entity_expansion

log = logging.getLogger(__name__)


# feedparser files both RSS <guid> and <id> under entry.id, the later element winning. Keep the
# <guid> text on its own so the identity rule (guid, else link, else id) is explicit. And an
# identity is not a link: a guid or id is kept as written, never resolved against the response
# URL or xml:base (so a feed that moves keeps its listings' ids); only its copy as the entry's
# link (a permalink guid standing in for <link>) is resolved.
def _identity_end(rss_guid: bool) -> Any:
    def end(self: Any) -> None:
        base, self.baseuri = self.baseuri, ""
        try:
            value = self.pop("id")
        finally:
            self.baseuri = base
        self._save("guidislink", self.guidislink and "link" not in self._get_context())
        if self.guidislink:
            self._save("link", self.resolve_uri(value) if value else value)
        if rss_guid and self.inentry and value:
            self._get_context()["rss_guid"] = value

    return end


setattr(Namespace, "_end_guid", _identity_end(rss_guid=True))  # noqa: B010 (a patch, on purpose)
setattr(Namespace, "_end_id", _identity_end(rss_guid=False))  # noqa: B010


def parse_feed(body: bytes, *, fast: bool = True, content_type: str = "", base_url: str = "") -> ParsedFeed:
    """The fast path when it is sure to read the feed as feedparser would, feedparser otherwise.

    ``content_type`` is the response's Content-Type header, ``base_url`` its final URL."""
    if fast:
        try:
            parsed = parse_fast(body, charset=xml_charset(body, content_type), base_url=base_url)
        except FeedParseError:  # refused, as feedparser would refuse it (xmlguard)
            raise
        except Exception:  # a bug there must cost speed, never the feed
            log.exception("the fast parse path failed; parsing with feedparser instead")
            parsed = None
        if parsed is not None:
            return with_atom_identity(parsed)
    return with_atom_identity(parse_with_feedparser(body, content_type=content_type, base_url=base_url))


def with_atom_identity(parsed: ParsedFeed) -> ParsedFeed:
    """For Atom, the entry's ``atom:id`` is its guid; RSS keeps guid, then link, then id."""
    if not is_atom(parsed.format):
        return parsed
    entries = [replace(entry, guid=entry.id) if entry.id else entry for entry in parsed.entries]
    return replace(parsed, entries=entries)


def is_atom(format_name: str) -> bool:
    """feedparser's versions "atom03", "atom10", "atom" (the fast path's "atom10")."""
    return format_name.startswith("atom")


def parse_with_feedparser(body: bytes, *, content_type: str = "", base_url: str = "") -> ParsedFeed:
    """Parse any RSS/Atom variant. Raises FeedParseError when nothing feed-like is found, or
    when its internal entities would expand too far (expat and the loose parser expand them)."""
    check_entity_expansion(body)
    parsed = feedparser.parse(
        body,
        sanitize_html=False,
        resolve_relative_uris=False,  # inside HTML content; links themselves are resolved
        response_headers=_response_headers(xml_charset(body, content_type), base_url),
    )
    entries = [raw_entry(entry) for entry in parsed.entries]
    if not parsed.get("version") and not entries:
        raise FeedParseError(_why_not_a_feed(body, parsed))
    warning = None
    if parsed.bozo:
        warning = (
            f"malformed feed ({_describe(parsed.get('bozo_exception'))}); {len(entries)} entries recovered"
        )
    return ParsedFeed(entries=entries, format=parsed.get("version") or "unknown", warning=warning)


def _response_headers(charset: str | None, base_url: str) -> dict[str, str]:
    """What feedparser is told of the response. Only the header's charset (unless a BOM
    overrides it: mediatype.xml_charset) is passed on (as XML,
    so feedparser applies it as RFC 7303 says); without one it sniffs the BOM and declaration as
    it does for bytes (an XML type without a charset: BOM, then declaration, then UTF-8). The
    media type itself was looked at before (the format layer)."""
    if not (base_url or charset):
        return {}
    headers = {"content-type": f"application/xml; charset={charset}" if charset else "application/xml"}
    if base_url:
        headers["content-location"] = base_url
    return headers


def _describe(exc: object) -> str:
    return f"{type(exc).__name__}: {exc}" if exc is not None else "unknown error"


def _why_not_a_feed(body: bytes, parsed: Any) -> str:
    head = body[:2048].lstrip().lower()
    if not head:
        return "empty response"
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return "an HTML page, not an RSS/Atom feed"
    return f"not an RSS/Atom feed ({_describe(parsed.get('bozo_exception'))})"
