"""Source formats: one adapter per format, all producing the same :class:`ParsedFeed` entries.

A feed's ``format`` (default ``auto``, decided by :mod:`.detect`) picks the adapter:

=================  =====================================================================
``rss``            RSS 0.9x/1.0/2.0, Atom (:mod:`.rss`: the fast path, else feedparser)
``jobxml``/``xml`` ``<source>``/``<jobs>`` of ``<job>``, Personio's ``<workzag-jobs>``
``jsonfeed``       JSON Feed 1.0/1.1
``greenhouse``     ... ``lever``, ``ashby``, ``smartrecruiters`` (paginated), ``recruitee``,
                   ``workable``: the public job-board APIs of those ATSs
``json``           any JSON, read with the feed's ``items`` and ``fields`` mapping
=================  =====================================================================

Normalisation (:mod:`..normalize`) sees only the entries, whichever adapter read them.
"""

from __future__ import annotations

from job_importer.settings import FeedConfig
from services.fetcher.entries import ParsedFeed
from services.fetcher.formats import (
    ashby,
    greenhouse,
    jobxml,
    jsonfeed,
    jsonitems,
    jsonmapped,
    lever,
    recruitee,
    rss,
    smartrecruiters,
    workable,
)
from services.fetcher.formats.detect import api_format, detect
from services.fetcher.formats.document import Document, FetchPage

__all__ = ["JSON_FORMATS", "Document", "FetchPage", "paginated", "read_document"]

#: The JSON formats read as one document (whole, or streamed an item at a time); SmartRecruiters'
#: pages are read whole, one after another.
JSON_FORMATS: dict[str, jsonitems.JsonFormat] = {
    source.name: source
    for source in (
        jsonfeed.FORMAT,
        greenhouse.FORMAT,
        lever.FORMAT,
        ashby.FORMAT,
        recruitee.FORMAT,
        workable.FORMAT,
        jsonmapped.FORMAT,
    )
}


def paginated(feed: FeedConfig) -> bool:
    """Whether the feed's source comes in pages: a 304 for its first page says nothing of the
    others, so it is fetched without a conditional GET."""
    return "smartrecruiters" in (feed.format, api_format(feed.url))


def read_document(document: Document, feed: FeedConfig, *, fast: bool, fetch_page: FetchPage) -> ParsedFeed:
    """The document's entries in the feed's format (detected for "auto"). Raises FeedParseError."""
    name = detect(document, feed.url) if feed.format == "auto" else feed.format
    if name == "rss":
        parsed = rss.read(document, fast=fast)
    elif name == "smartrecruiters":
        parsed = smartrecruiters.read(document, feed, fetch_page)
    elif name in JSON_FORMATS:
        parsed = JSON_FORMATS[name].read(document, feed)
    else:
        parsed = jobxml.read(document, feed)  # "jobxml" or "xml"
    parsed.reader = name
    return parsed
