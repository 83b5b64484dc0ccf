"""Reading a spooled document's entries as its elements end, in memory that does not grow with it.

The whole-document path holds the body, libxml2's tree of it and every entry at once: about six
times the feed's size (a 345 MB feed took the fetcher to 2 GB). The formats most large feeds come
in, well-formed RSS 2.0/Atom (the fast path's) and job-board XML, are read here instead from the
:class:`~services.fetcher.spool.Spool` the download wrote, with lxml's incremental parser: each
item becomes an entry when its end tag is read and its elements are freed then.

:func:`open_stream` says whether a document is one of those (None: the whole-document path reads
it, under its smaller cap). A stream may still step aside part way, raising :class:`NotStreamed`
(the fast path met something feedparser would read differently, or the XML is malformed and must
be recovered): the caller has sent nothing by then (:mod:`.pipeline` keeps the items on disk
until the document has been read to its end) and reads the document whole instead.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import replace

from lxml import etree

from job_importer.settings import FeedConfig
from services.fetcher.entries import RawEntry
from services.fetcher.fastparse import FastStream, Malformed, Unsure
from services.fetcher.formats import jobxml
from services.fetcher.formats.detect import JOBXML_ROOTS, api_format, root_element
from services.fetcher.formats.document import Document
from services.fetcher.formats.xmltree import element_tree, local
from services.fetcher.parse import is_atom
from services.fetcher.spool import Spool
from services.fetcher.xmlguard import LXML_OPTIONS

_JSON_TYPES = ("application/json", "application/feed+json", "text/json")


class NotStreamed(Exception):
    """The stream stepped aside: read the document whole. ``malformed``: it is not well-formed
    XML (its items before the error were complete)."""

    def __init__(self, reason: str, *, malformed: bool) -> None:
        super().__init__(reason)
        self.malformed = malformed


class Streamed:
    """The entries of one spooled document. ``reader`` is the format adapter's name ("rss",
    "jobxml"), ``format`` the document's version ("rss20", "atom10", "jobxml")."""

    def __init__(self, reader: str, entries: Iterator[RawEntry], stream: FastStream | None = None) -> None:
        self.reader = reader
        self._entries = entries
        self._stream = stream

    @property
    def format(self) -> str:
        return self._stream.format if self._stream is not None else "jobxml"

    def __iter__(self) -> Iterator[RawEntry]:
        return self._entries


def open_stream(
    spool: Spool, content_type: str, url: str, feed: FeedConfig, *, fast: bool
) -> Streamed | None:
    """The document's entries as a stream, or None when it is not one the streaming readers take."""
    if spool.declares_entities:
        return None  # the whole-document path counts their expansion (xmlguard)
    document = Document(spool.head, content_type, url)
    name = _format(document, feed)
    if name == "rss" and fast:
        stream = FastStream(
            spool.reader(),
            head=spool.head,
            ascii_body=spool.ascii,
            xmlns=spool.xmlns,
            charset=document.charset,
            base_url=url,
        )
        return Streamed("rss", _rss_entries(stream), stream)
    if name in ("jobxml", "xml") and not feed.items:
        return Streamed(name, _jobxml_entries(spool, document, feed))
    return None


def _format(document: Document, feed: FeedConfig) -> str | None:
    """:func:`~services.fetcher.formats.detect.detect` for the XML formats; None for the others."""
    if feed.format != "auto":
        return feed.format
    if any(api_format(url) for url in (feed.url, document.url) if url):
        return None
    first = document.body.lstrip().removeprefix(codecs.BOM_UTF8)[:1]
    if first in (b"{", b"[") or (first != b"<" and document.media_type in _JSON_TYPES):
        return None
    return "jobxml" if root_element(document.body) in JOBXML_ROOTS else "rss"


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
