"""RSS 0.9x/1.0/2.0 and Atom 0.3/1.0: the lxml fast path, else feedparser (:mod:`..parse`).

An unreadable document's reason names what it is (its root element and content type).
"""

from __future__ import annotations

from services.fetcher.entries import FeedParseError, ParsedFeed
from services.fetcher.formats.detect import describe
from services.fetcher.formats.document import Document
from services.fetcher.parse import parse_feed


def read(document: Document, *, fast: bool) -> ParsedFeed:
    try:
        return parse_feed(document.body, fast=fast, content_type=document.content_type, base_url=document.url)
    except FeedParseError as exc:
        if "HTML page" in str(exc) or not document.body.strip():
            raise
        raise FeedParseError(f"{exc}; {describe(document)}") from None
