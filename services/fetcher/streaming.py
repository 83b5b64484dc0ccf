"""Reading a spooled document's entries as its elements end, in memory that does not grow with it.

The whole-document path holds the body, libxml2's tree of it and every entry at once: about six
times the feed's size (a 345 MB feed took the fetcher to 2 GB). The formats most large feeds come
in, well-formed RSS 2.0/Atom (the fast path's) and job-board XML, are read here instead from the
:class:`~services.fetcher.spool.Spool` the download wrote, with lxml's incremental parser: each
item becomes an entry when its end tag is read and its elements are freed then. The JSON formats
that are one document (JSON Feed, Greenhouse, Lever, Ashby, Recruitee, Workable, the per-feed
``json`` mapping) are read the same way with ijson (:mod:`.jsonstream`): each item of the list
becomes an entry when its last event is read. SmartRecruiters' pages (100 postings each) are
read whole, one after another.

:func:`open_stream` says whether a document is one of those (None: the whole-document path reads
it, under its smaller cap). A stream may still step aside part way, raising :class:`NotStreamed`
(the fast path met something feedparser would read differently, the XML is malformed and must
be recovered, or the JSON is one json.loads would read otherwise or malformed): the caller has
sent nothing by then (:mod:`.pipeline` keeps the items on disk
until the document has been read to its end) and reads the document whole instead.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator
from dataclasses import replace

from lxml import etree

from job_importer.settings import FeedConfig
from services.fetcher.entries import RawEntry
from services.fetcher.fastparse import FastStream, Malformed, Unsure
from services.fetcher.formats import JSON_FORMATS, jobxml, jsonitems
from services.fetcher.formats.detect import describe_json_type, detect_from_head
from services.fetcher.formats.document import Document
from services.fetcher.formats.jsonitems import JsonFormat, ToValues
from services.fetcher.formats.xmltree import element_tree, local
from services.fetcher.jsonstream import JsonItems, StepAside
from services.fetcher.parse import is_atom
from services.fetcher.spool import Spool
from services.fetcher.xmlguard import LXML_OPTIONS

_UTF16_32_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)


class NotStreamed(Exception):
    """The stream stepped aside: read the document whole. ``malformed``: it is not well-formed
    XML or JSON (its items before the error were complete). ``error``: what to say when the
    document is too large to be read whole (malformed JSON, which no recovery would read)."""

    def __init__(self, reason: str, *, malformed: bool, error: str | None = None) -> None:
        super().__init__(reason)
        self.malformed = malformed
        self.error = error


class Streamed:
    """The entries of one spooled document. ``reader`` is the format adapter's name ("rss",
    "jobxml", "greenhouse"), ``format`` the document's version ("rss20", "atom10", "jobxml",
    "jsonfeed11"), known once the entries have been read."""

    def __init__(self, reader: str, entries: Iterator[RawEntry], format_of: Callable[[], str]) -> None:
        self.reader = reader
        self._entries = entries
        self._format_of = format_of

    @property
    def format(self) -> str:
        return self._format_of()

    def __iter__(self) -> Iterator[RawEntry]:
        return self._entries


def open_stream(
    spool: Spool, content_type: str, url: str, feed: FeedConfig, *, fast: bool
) -> Streamed | None:
    """The document's entries as a stream, or None when it is not one the streaming readers take."""
    document = Document(spool.head, content_type, url)
    name = feed.format if feed.format != "auto" else detect_from_head(document, feed.url)
    if name in JSON_FORMATS:
        return _json_stream(JSON_FORMATS[name], spool, document, feed)
    if spool.declares_entities:
        return None  # the whole-document path counts their expansion (xmlguard)
    if name == "rss" and fast:
        stream = FastStream(
            spool.reader(),
            head=spool.head,
            ascii_body=spool.ascii,
            xmlns=spool.xmlns,
            charset=document.charset,
            base_url=url,
        )
        return Streamed("rss", _rss_entries(stream), lambda: stream.format)
    if name in ("jobxml", "xml") and not feed.items:
        return Streamed(name, _jobxml_entries(spool, document, feed), lambda: "jobxml")
    return None


def _json_stream(source: JsonFormat, spool: Spool, document: Document, feed: FeedConfig) -> Streamed | None:
    source.check(feed)
    head = spool.head
    if b"\x00" in head[:4] or head.startswith(_UTF16_32_BOMS):
        return None  # UTF-16/32: json.loads decodes them, ijson reads UTF-8
    file = spool.reader()
    if head.startswith(codecs.BOM_UTF8):
        file.seek(len(codecs.BOM_UTF8))  # json.loads skips it too
    items = JsonItems(
        file,
        feed.items or source.pointer,
        members=source.naming,
        context=source.context,
        object_only=source.object_only,
        exact_strings=spool.escapes_surrogates,
    )
    return Streamed(
        source.name, _json_entries(source, items, document, feed), lambda: source.format_name(items.top)
    )


def _rss_entries(stream: FastStream) -> Iterator[RawEntry]:
    try:
        for entry in stream:
            # parse.with_atom_identity, an entry at a time
            yield replace(entry, guid=entry.id) if entry.id and is_atom(stream.format) else entry
    except Malformed as exc:
        raise NotStreamed(f"not well-formed XML ({exc})", malformed=True) from None
    except Unsure:
        raise NotStreamed("the fast path steps aside for this document", malformed=False) from None


def _jobxml_entries(spool: Spool, document: Document, feed: FeedConfig) -> Iterator[RawEntry]:
    """jobxml.read for the usual shape (a root of job elements), a job at a time."""
    personio = jobxml.personio_base(feed.url, document.url)
    try:
        events = etree.iterparse(
            spool.reader(),
            events=("start", "end"),
            encoding=document.charset,
            **LXML_OPTIONS,
        )
        level = 0
        for event, element in events:
            if event == "start":
                level += 1
                if level == 1 and local(element.tag) in jobxml.ITEM_NAMES:
                    raise NotStreamed("the document is one job", malformed=False)
                continue
            level -= 1
            if level == 1:
                if local(element.tag) in jobxml.ITEM_NAMES:
                    yield jobxml.safe_entry(element_tree(element), feed, document, personio)
                element.clear()
                while element.getprevious() is not None:
                    del element.getparent()[0]
    except etree.XMLSyntaxError as exc:
        raise NotStreamed(f"not well-formed XML ({exc})", malformed=True) from None
    except (ValueError, LookupError) as exc:
        raise NotStreamed(f"unreadable XML ({exc})", malformed=False) from None


def _json_entries(
    source: JsonFormat, items: JsonItems, document: Document, feed: FeedConfig
) -> Iterator[RawEntry]:
    """:meth:`JsonFormat.read`'s entries, an item at a time."""
    to_values: ToValues | None = None
    try:
        for item in items:
            if to_values is None:  # the context members, if any, came before the first item
                to_values = source.values(items.top, document)
            if source.keep(item):
                yield jsonitems.entry(item, feed, to_values)
    except StepAside as exc:
        error = f"{exc}; {describe_json_type(document)}" if exc.malformed else None
        raise NotStreamed(str(exc), malformed=exc.malformed, error=error) from None
