"""The fast parse path: well-formed RSS 2.0 and Atom 1.0 read with lxml, to feedparser's rules.

feedparser drives a Python state machine with every SAX event of a document; for a Jobicy-sized
feed that is well over a millisecond per item. Here libxml2 builds the tree and Python visits
each item's elements once, applying the part of feedparser's element handling that job feeds
use, so that :func:`parse_fast` returns exactly the entries ``parse_with_feedparser`` would
(tests/fetcher/test_fastparse_corpus.py holds it to that on feedparser's own test corpus).

Exactness comes from refusing rather than guessing. Anything outside that part makes
:func:`parse_fast` return None and the caller uses feedparser: another format, a DOCTYPE, an
encoding other than UTF-8 (or ASCII), an XML declaration that disagrees with the charset of the
HTTP header on non-ASCII text (RFC 7303: the header wins; feedparser is given the same header),
malformed XML, ``xml:base``, namespace declarations
below the root element, markup inside text elements (XHTML content), base64 or non-text
content types, item attributes feedparser acts on, and any element for which feedparser has
a special handler that is not mirrored here (iTunes, GeoRSS, Atom contributors, ...).

The parser is configured defensively: no DTD loading, no network, no entity resolution, and
libxml2's default size limits (``huge_tree`` off); a feed whose internal entities would expand
too far is refused before parsing, as on feedparser's path (:mod:`.xmlguard`).
"""

from __future__ import annotations

import calendar
import codecs
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from datetime import UTC, datetime
from functools import cache
from typing import IO, Any

from feedparser.datetimes import _parse_date
from feedparser.encodings import RE_XML_PI_ENCODING
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin
from feedparser.util import FeedParserDict
from lxml import etree

from services.fetcher.entries import ParsedFeed, raw_entry
from services.fetcher.xmlguard import LXML_OPTIONS, check_entity_expansion


class _Unsure(Exception):
    """feedparser might read this document differently: let it."""


class Unsure(_Unsure):
    """Raised by :func:`stream_fast`'s entries: the streamed document is not one the fast path
    reads as feedparser would (the caller has sent nothing yet and reads it whole instead)."""


class Malformed(Unsure):
    """The streamed document is not well-formed XML (its entries so far were complete)."""


XML_NS = "http://www.w3.org/XML/1998/namespace"
ATOM_NS = "http://www.w3.org/2005/Atom"
_USERLAND = "http://backend.userland.com/rss"
#: feedparser's table of known namespaces: lower-cased URI -> its prefix ("" for the core formats).
_KNOWN_NS = {uri.lower(): prefix for uri, prefix in _FeedParserMixin.namespaces.items()}
#: Namespaces whose declaration makes feedparser report RSS 1.0 / RSS 0.90 rather than RSS 2.0 or Atom.
_OTHER_VERSION_NS = frozenset({"http://purl.org/rss/1.0/", "http://my.netscape.com/rdf/simple/0.9/"})
#: Every element name feedparser treats specially; those not mirrored below make us step aside.
_FEEDPARSER_HANDLERS = frozenset(
    name.split("_", 2)[2] for name in dir(_FeedParserMixin) if name.startswith(("_start_", "_end_"))
)
#: Assigning ``entry[key]`` on a FeedParserDict stores under another key for these.
_STORED_AS = {
    key: target[0] if isinstance(target, list) else target for key, target in FeedParserDict.keymap.items()
}
_CAN_BE_RELATIVE = frozenset(_FeedParserMixin.can_be_relative_uri)
_HTML_TYPES = frozenset(_FeedParserMixin.html_types)
_TEXT_TYPES = frozenset({"text/plain", "text/html"})
_map_content_type = _FeedParserMixin.map_content_type
#: Feed-level elements that change how the following items are read (or are items themselves).
_NOT_AT_FEED_LEVEL = frozenset(
    {
        "item",
        "entry",
        "content",
        "content_encoded",
        "fullitem",
        "body",
        "xhtml_body",
        "summary",
        "itunes_summary",
    }
)
_LINK_ENTITY = re.compile("&([A-Za-z0-9_]+);")
_XML_VERSION = re.compile(rb"<\?xml\s+version\s*=\s*[\"']([^\"']*)[\"']")
_C1_CONTROL = re.compile("[\x80-\x9f]")  # the only characters _cp1252 maps
_ASCII_ENCODINGS = frozenset(
    {"us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1", "windows-1252", "cp1252"}
)
_UTF8 = frozenset({"", "utf-8", "utf8"})
#: BOMs and "<?xm" in encodings that are not ASCII-compatible (feedparser's sniffing list).
_OTHER_ENCODING_MARKERS = (
    codecs.BOM_UTF32_BE,
    codecs.BOM_UTF32_LE,
    codecs.BOM_UTF16_BE,
    codecs.BOM_UTF16_LE,
    b"\x4c\x6f\xa7\x94",
    b"\x00\x3c\x00\x3f",
    b"\x3c\x00\x3f\x00",
    b"\x00\x00\x00\x3c",
    b"\x3c\x00\x00\x00",
)
_FIRST_ELEMENT = re.compile(rb"<\w")

_local = threading.local()


def _parser() -> etree.XMLParser:
    """One parser per thread (lxml parsers must not be shared between threads)."""
    parser = getattr(_local, "parser", None)
    if parser is None:
        # Comments go (SAX skips them too; the text around them is joined).
        parser = _local.parser = etree.XMLParser(collect_ids=False, **LXML_OPTIONS)
    return parser


def parse_fast(body: bytes, *, charset: str | None = None, base_url: str = "") -> ParsedFeed | None:
    """The feed's entries exactly as feedparser would read them, or None when not sure.

    ``charset`` is the one the HTTP header names (it wins over the XML declaration); relative
    links resolve against ``base_url``, the response's final URL. Raises FeedParseError, as
    feedparser's path does, for internal entities that would expand too far (libxml2 would not
    expand them here, but feedparser would)."""
    check_entity_expansion(body)
    try:
        return _Document(body, charset, base_url).parse()
    except _Unsure:
        return None


class FastStream:
    """The entries of a well-formed RSS 2.0 or Atom 1.0 document read from a file as they end,
    each item's elements freed once read, so memory does not grow with the document.

    The same rules as :func:`parse_fast`, for the same entries: the whole-document facts they
    need (``ascii_body``, ``xmlns`` count) are counted by the caller as the body arrives
    (:class:`~services.fetcher.spool.Spool`). Iterating raises :class:`Unsure` (and
    :class:`Malformed` for broken XML) where :func:`parse_fast` would return None; a document
    that declares entities is the caller's to refuse (:mod:`.xmlguard` on the whole path).
    ``format`` is known once the first entry is out (or the iteration ended).
    """

    def __init__(
        self,
        source: IO[bytes],
        *,
        head: bytes,
        ascii_body: bool,
        xmlns: int,
        charset: str | None = None,
        base_url: str = "",
    ) -> None:
        self.source = source
        self.head = head
        self.ascii_body = ascii_body
        self.xmlns = xmlns
        self.charset = charset
        self.base_url = base_url
        self.format = ""

    def __iter__(self) -> Iterator[Any]:
        try:
            _check_head(self.head, self.ascii_body, self.charset)
        except _Unsure:
            raise Unsure from None
        document = _Document(b"", self.charset, self.base_url)
        reader = _EntryReader(document)
        events = etree.iterparse(
            self.source,
            events=("start", "end"),
            collect_ids=False,
            **LXML_OPTIONS,
        )
        level = 0
        rss = False
        try:
            for event, element in events:
                if event == "start":
                    level += 1
                    if level == 1:
                        rss = self._start(document, element)
                    elif level == 2 and rss and document.name(element.tag) == "channel":
                        document.attrs(element)
                    continue
                level -= 1
                if level == 1:  # a child of the root
                    if rss and document.name(element.tag) == "channel":
                        pass  # its children were read as they ended
                    elif not rss and document.name(element.tag) in ("item", "entry"):
                        yield reader.read(element)
                    else:
                        document.check_feed_level(element)
                    _free(element)
                elif level == 2 and rss and document.name(element.getparent().tag) == "channel":
                    if document.name(element.tag) in ("item", "entry"):
                        yield reader.read(element)
                    else:
                        document.check_feed_level(element)
                    _free(element)
        except etree.XMLSyntaxError as exc:
            raise Malformed(str(exc)) from None
        except ValueError:
            raise Unsure from None
        except Unsure:
            raise
        except _Unsure:
            raise Unsure from None

    def _start(self, document: _Document, root: etree._Element) -> bool:
        """The root element: whether it is RSS 2.0 (else Atom 1.0, else not for us)."""
        if root.getroottree().docinfo.doctype:
            raise _Unsure
        document._track_namespaces(root, self.xmlns)
        name = document.name(root.tag)
        attrs = document.attrs(root)
        if name == "rss" and attrs.get("version", "").startswith("2."):
            self.format = "rss20"
            return True
        if name == "feed" and root.tag.startswith("{" + ATOM_NS + "}"):
            self.format = "atom10"
            return False
        raise _Unsure


def _free(element: etree._Element) -> None:
    """Drop an element that has been read, and the siblings read before it."""
    element.clear()
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


class _Document:
    """One document: its namespace bookkeeping as feedparser keeps it, and the walk over it."""

    def __init__(self, body: bytes, charset: str | None = None, base_url: str = "") -> None:
        self.body = body
        self.charset = charset
        self.base_url = base_url
        self.resolve = _Resolver(base_url)
        self.names: dict[str, str] = {}
        self.handlers: dict[str, Handler] = {}  # by lxml tag, filled as tags are met
        self.prefixes: dict[str | None, str] = {}  # feedparser's namespacemap: document prefix -> its own
        self.in_use: dict[str, str] = {}  # feedparser's namespaces_in_use: prefix -> URI

    def parse(self) -> ParsedFeed:
        text = _check_prolog(self.body, self.charset)
        try:
            root = etree.fromstring(text, _parser())
        except (etree.XMLSyntaxError, ValueError):
            raise _Unsure from None
        if root.getroottree().docinfo.doctype:
            raise _Unsure
        self._track_namespaces(root)
        name = self.name(root.tag)
        attrs = self.attrs(root)
        reader = _EntryReader(self)
        if name == "rss" and attrs.get("version", "").startswith("2."):
            version = "rss20"
            entries = []
            for child in root:
                if self.name(child.tag) != "channel":
                    self.check_feed_level(child)
                    continue
                self.attrs(child)
                for element in child:
                    if self.name(element.tag) in ("item", "entry"):
                        entries.append(reader.read(element))
                    else:
                        self.check_feed_level(element)
        elif name == "feed" and root.tag.startswith("{" + ATOM_NS + "}"):
            version = "atom10"
            entries = []
            for element in root:
                if self.name(element.tag) in ("item", "entry"):
                    entries.append(reader.read(element))
                else:
                    self.check_feed_level(element)
        else:
            raise _Unsure
        return ParsedFeed(entries=entries, format=version)

    def _track_namespaces(self, root: etree._Element, xmlns: int | None = None) -> None:
        """feedparser's track_namespace over the declarations, which must all be on the root
        (``xmlns``: how often the word appears in the body, when it is not in ``self.body``)."""
        declared = root.nsmap
        if (self.body.count(b"xmlns") if xmlns is None else xmlns) != len(declared):
            raise _Unsure  # declarations further down (or the word in text): order would matter
        unknown: set[str] = set()
        for prefix, uri in declared.items():
            lower = uri.lower()
            if "backend.userland.com/rss" in lower:
                uri = lower = _USERLAND
            if lower in _OTHER_VERSION_NS:
                raise _Unsure
            if lower in _KNOWN_NS:
                self.prefixes[prefix] = _KNOWN_NS[lower]
                self.in_use[_KNOWN_NS[lower]] = uri
            else:
                if prefix and uri in unknown:
                    raise _Unsure  # two prefixes for one URI: which one wins depends on order
                unknown.add(uri)
                self.in_use[prefix or ""] = uri

    def name(self, tag: str) -> str:
        """The name feedparser gives an element (``media_content``, ``pubdate``, ...)."""
        name = self.names.get(tag)
        if name is None:
            name = self.names[tag] = self._name(tag)
        return name

    def _name(self, tag: str) -> str:
        namespace, _, local = tag[1:].partition("}") if tag[0] == "{" else ("", "", tag)
        lower = namespace.lower()
        if "backend.userland.com/rss" in lower:
            namespace = lower = _USERLAND
        prefix = _KNOWN_NS.get(lower)
        if prefix:
            local = prefix.lower() + ":" + local
        elif namespace:
            for candidate, uri in self.in_use.items():
                if candidate and uri == namespace:
                    local = candidate + ":" + local
                    break
        local = local.lower()
        if ":" not in local:
            return local
        prefix, suffix = local.split(":", 1)
        prefix = self.prefixes.get(prefix, prefix)
        return f"{prefix}_{suffix}" if prefix else suffix

    def handler(self, tag: str) -> Handler:
        """What to do with an element inside an item: mirror feedparser's handler, or keep its text."""
        handler = self.handlers.get(tag)
        if handler is None:
            name = self.name(tag)
            handler = _HANDLERS.get(name)
            if handler is None:
                if name in _FEEDPARSER_HANDLERS:
                    raise _Unsure
                handler = _unknown_handler(name)
            self.handlers[tag] = handler
        return handler

    def attrs(self, element: etree._Element) -> dict[str, str]:
        """The element's attributes as feedparser's handlers receive them."""
        attrib = element.attrib
        if not attrib:
            return {}
        attrs = {}
        for key, value in attrib.items():
            if key[0] == "{":
                namespace, _, local = key[1:].partition("}")
                if namespace != XML_NS:
                    raise _Unsure
                key = "xml:" + local.lower()
            else:
                key = key.lower()
            if key in ("xml:base", "base"):
                raise _Unsure  # relative links would resolve against it
            if key in ("rel", "type"):
                value = value.lower() or value
            attrs[key] = value
        return attrs

    def check_feed_level(self, element: etree._Element) -> None:
        """A channel/feed element outside the items: it must not change how they are read."""
        for node in element.iter():
            if self.name(node.tag) in _NOT_AT_FEED_LEVEL:
                raise _Unsure
            self.attrs(node)


Handler = Callable[["_EntryReader", etree._Element, int], None]


class _EntryReader:
    """Reads one item into a dict shaped like feedparser's entry, one handler per element name.

    Each handler mirrors feedparser's ``_start_<name>``/``_end_<name>`` pair plus the text
    processing of its ``pop``; the comments name the feedparser code they follow.
    """

    def __init__(self, document: _Document) -> None:
        self.document = document
        self.attrs = document.attrs
        self.data: dict[str, Any] = {}
        self.depths: dict[str, int] = {}  # feedparser's property_depth_map for this entry
        self.title_depth = -1
        self.guidislink = False
        self.has_content = False

    def read(self, item: etree._Element) -> Any:
        attrs = self.attrs(item)
        if "lastmod" in attrs or "href" in attrs:
            raise _Unsure  # _cdf_common
        self.data, self.depths = {}, {}
        self.title_depth, self.guidislink, self.has_content = -1, False, False
        self.children(item, 1)
        return raw_entry(self.data)

    def children(self, parent: etree._Element, depth: int) -> None:
        handlers = self.document.handlers
        for element in parent:
            tag = element.tag
            handler = handlers.get(tag) or self.document.handler(tag)
            handler(self, element, depth)

    # Text and storage, as feedparser's pop() does them --------------------------------------

    @staticmethod
    def leaf_text(element: etree._Element) -> str:
        if len(element):
            raise _Unsure  # markup inside: feedparser would rebuild it as XHTML
        return element.text or ""

    def finish(self, text: str, name: str) -> str:
        """pop(): strip, resolve URI-valued elements, undo mojibake, map cp1252 controls."""
        output = text.strip()
        if name in _CAN_BE_RELATIVE and (name != "id" or self.guidislink):
            # an identity is kept as written (our patched _end_guid/_end_id): no base URI
            output = _NO_BASE(output) if name == "id" else self.document.resolve(output)
        if not output.isascii():
            with suppress(UnicodeEncodeError, UnicodeDecodeError):  # not double-encoded after all
                output = output.encode("iso-8859-1").decode("utf-8")
            if _C1_CONTROL.search(output):  # translate() is slow per character: only when it maps one
                output = output.translate(_cp1252)
        return output

    def store(self, key: str, value: Any, depth: int) -> None:
        """pop()'s entry storage: a shallower element wins, among equals the later one."""
        old = self.depths.get(key)
        if old is None or depth <= old:
            self.depths[key] = depth
            self.data[_STORED_AS.get(key, key)] = value

    def text_type(self, element: etree._Element, default: str) -> str:
        """push_content(): only plain text and escaped HTML; base64 and XML types step aside."""
        attrs = self.attrs(element)
        if not attrs:
            return default
        if "mode" in attrs:
            raise _Unsure
        content_type = _map_content_type(attrs.get("type", default))
        if content_type not in _TEXT_TYPES:
            raise _Unsure
        return str(content_type)

    # Handlers ----------------------------------------------------------------------------

    def title(self, element: etree._Element, depth: int, keep_depth: bool = False) -> None:
        """_start_title/_end_title: the first non-empty title blocks later ones at its depth."""
        self.text_type(element, "text/plain")
        value = self.finish(self.leaf_text(element), "title")
        if not -1 < self.title_depth <= depth:
            self.store("title", value, depth)
        if value and not keep_depth:
            self.title_depth = depth

    def media_title(self, element: etree._Element, depth: int) -> None:
        self.title(element, depth, keep_depth=True)  # _end_media_title restores title_depth

    def description(self, element: etree._Element, depth: int) -> None:
        self.summary_or_content(element, depth, "description", "text/html")

    def summary(self, element: etree._Element, depth: int) -> None:
        self.summary_or_content(element, depth, "summary", "text/plain")

    def summary_or_content(self, element: etree._Element, depth: int, name: str, default: str) -> None:
        """_start_description/_start_summary: with a summary there already (and no content yet),
        the element counts as content."""
        if "summary" in self.data and not self.has_content:
            self.content(element, depth, "text/plain")
            return
        self.text_type(element, default)
        self.store("summary", self.finish(self.leaf_text(element), name), depth)

    def content(self, element: etree._Element, depth: int, default: str = "text/plain") -> None:
        """_start_content/_end_content: appended to the contents, and the summary if none yet."""
        self.has_content = True
        self.text_type(element, default)
        value = self.finish(self.leaf_text(element), "content")
        self.data.setdefault("content", []).append({"value": value})
        self.data.setdefault("summary", value)

    def content_encoded(self, element: etree._Element, depth: int) -> None:
        self.content(element, depth, "text/html")

    def link(self, element: etree._Element, depth: int) -> None:
        """_start_link: an alternate HTML href, or the element's text (RSS)."""
        attrs = self.attrs(element)
        text = self.leaf_text(element)
        if attrs:
            attrs.setdefault("rel", "alternate")
            attrs.setdefault("type", "application/atom+xml" if attrs["rel"] == "self" else "text/html")
            attrs = _FeedParserMixin._enforce_href(attrs)
            if "href" in attrs:
                href = self.document.resolve(attrs["href"])
                if attrs["rel"] == "alternate" and _map_content_type(attrs["type"]) in _HTML_TYPES:
                    self.data["link"] = href
                return
        value = self.finish(text, "link")
        if "&" in value:  # feedparser's repair of "&amp;" and of "&name;" read as entities
            value = _LINK_ENTITY.sub(r"&\g<1>", value.replace("&amp;", "&"))
        self.data["link"] = value

    def guid(self, element: etree._Element, depth: int, rss_guid: bool = True) -> None:
        """_start_guid and our patched _end_guid / _end_id: the identity as written, its copy as
        the link resolved."""
        attrs = self.attrs(element)
        self.guidislink = attrs.get("ispermalink", "true") == "true"
        value = self.finish(self.leaf_text(element), "id")
        self.store("id", value, depth)
        self.data.setdefault("guidislink", self.guidislink and "link" not in self.data)
        if self.guidislink:
            self.data.setdefault("link", self.document.resolve(value) if value else value)
        if rss_guid and value:
            self.data["rss_guid"] = value

    def atom_id(self, element: etree._Element, depth: int) -> None:
        self.guid(element, depth, rss_guid=False)

    def category(self, element: etree._Element, depth: int, scheme: str | None = None) -> None:
        """_start_category/_end_category: a tag from the attributes, its term from the text."""
        attrs = self.attrs(element)
        if scheme:
            attrs.setdefault("scheme", scheme)
        tags = self.data.setdefault("tags", [])
        _add_tag(tags, attrs.get("term"), attrs.get("scheme", attrs.get("domain")), attrs.get("label"))
        value = self.finish(self.leaf_text(element), "category")
        if not value:
            return
        if tags and not tags[-1]["term"]:
            tags[-1]["term"] = value
        else:
            _add_tag(tags, value, None, None)

    def media_category(self, element: etree._Element, depth: int) -> None:
        self.category(element, depth, "http://search.yahoo.com/mrss/category_schema")

    def author(self, element: etree._Element, depth: int) -> None:
        """_start_author/_end_author with Atom's name/email/uri children (feedparser's own sync)."""
        self.attrs(element)
        context = _Context(self.data)
        self.data.setdefault("authors", []).append(FeedParserDict())
        pieces = [element.text or ""]
        for child in element:
            name = self.document.name(child.tag)
            self.attrs(child)
            text = self.leaf_text(child)
            if name in ("name", "email"):
                context._save_author(name, text.strip())  # pushed without expecting text: no fixes
            elif name in ("uri", "url", "homepage"):
                value = self.finish(text, "href")
                self.store("href", value, depth + 1)
                context._save_author("href", value)
            else:
                raise _Unsure
            pieces.append(child.tail or "")
        self.store("author", self.finish("".join(pieces), "author"), depth)
        context._sync_author_detail()

    def href(self, element: etree._Element, depth: int) -> None:
        """_start_url outside an author: kept as ``href``."""
        self.attrs(element)
        self.store("href", self.finish(self.leaf_text(element), "href"), depth)

    def ignored(self, element: etree._Element, depth: int) -> None:
        """Elements whose handlers leave nothing on an entry (enclosure, name outside author...)."""
        self.attrs(element)
        self.leaf_text(element)

    def source(self, element: etree._Element, depth: int) -> None:
        """_start_source/_end_source (RSS form): a dict, and the title block is lifted."""
        self.attrs(element)
        self.leaf_text(element)
        self.title_depth = -1
        self.data["source"] = {}

    def media_content(self, element: etree._Element, depth: int) -> None:
        attrs = self.attrs(element)
        self.leaf_text(element)
        self.data.setdefault("media_content", []).append(attrs)

    def media_thumbnail(self, element: etree._Element, depth: int) -> None:
        """_start_media_thumbnail/_end_media_thumbnail: the text is also kept (as ``href``)."""
        attrs = self.attrs(element)
        thumbnails = self.data.setdefault("media_thumbnail", [])
        thumbnails.append(attrs)
        url = self.finish(self.leaf_text(element), "url")
        self.store("url", url, depth)
        if url.strip() and "url" not in thumbnails[-1]:
            thumbnails[-1]["url"] = url

    def media_group(self, element: etree._Element, depth: int) -> None:
        self.attrs(element)
        self.children(element, depth + 1)


class _Context:
    """Just enough of a feedparser parser for its own tag and author bookkeeping methods."""

    __slots__ = ("data",)

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def _get_context(self) -> dict[str, Any]:
        return self.data

    _save_author = _FeedParserMixin._save_author
    _sync_author_detail = _FeedParserMixin._sync_author_detail


def _add_tag(
    tags: list[dict[str, str | None]], term: str | None, scheme: str | None, label: str | None
) -> None:
    """feedparser's _add_tag: a new, distinct tag."""
    if term or scheme or label:
        tag = {"term": term, "scheme": scheme, "label": label}
        if tag not in tags:
            tags.append(tag)


def _unknown_handler(name: str) -> Handler:
    """unknown_starttag(): with attributes, a dict of them is kept; otherwise the text."""
    key = _STORED_AS.get(name, name)

    def handler(reader: _EntryReader, element: etree._Element, depth: int) -> None:
        attrs = reader.attrs(element)
        text = reader.leaf_text(element)
        if attrs:
            reader.data[key] = attrs
        else:
            reader.store(name, reader.finish(text, name), depth)

    return handler


def _text_handler(key: str, typed: bool) -> Handler:
    """Elements kept as text under ``key``: push_content (``typed``) or push, then pop."""

    def handler(reader: _EntryReader, element: etree._Element, depth: int) -> None:
        if typed:
            reader.text_type(element, "text/plain")
        else:
            reader.attrs(element)
        reader.store(key, reader.finish(reader.leaf_text(element), key), depth)

    return handler


def _date_handler(key: str) -> Handler:
    """_end_published/_end_updated/...: the text, and its parse under ``<key>_parsed``."""

    parsed_key = key + "_parsed"

    def handler(reader: _EntryReader, element: etree._Element, depth: int) -> None:
        reader.attrs(element)
        value = reader.finish(reader.leaf_text(element), key)
        reader.store(key, value, depth)
        reader.data[parsed_key] = parse_date(value)

    return handler


_R = _EntryReader
_HANDLERS: dict[str, Handler] = {
    "title": _R.title,
    "dc_title": _R.title,
    "media_title": _R.media_title,
    "link": _R.link,
    "guid": _R.guid,
    "id": _R.atom_id,
    "description": _R.description,
    "dc_description": _R.description,
    "media_description": _R.description,
    "summary": _R.summary,
    "content": _R.content,
    "content_encoded": _R.content_encoded,
    "fullitem": _R.content_encoded,
    "rights": _text_handler("rights", typed=True),
    "copyright": _text_handler("rights", typed=True),
    "dc_rights": _text_handler("rights", typed=True),
    "subtitle": _text_handler("subtitle", typed=True),
    "tagline": _text_handler("subtitle", typed=True),
    "language": _text_handler("language", typed=False),
    "dc_language": _text_handler("language", typed=False),
    "pubdate": _date_handler("published"),
    "published": _date_handler("published"),
    "issued": _date_handler("published"),
    "dcterms_issued": _date_handler("published"),
    "updated": _date_handler("updated"),
    "modified": _date_handler("updated"),
    "lastbuilddate": _date_handler("updated"),
    "dc_date": _date_handler("updated"),
    "dcterms_modified": _date_handler("updated"),
    "created": _date_handler("created"),
    "dcterms_created": _date_handler("created"),
    "expirationdate": _date_handler("expired"),
    "category": _R.category,
    "dc_subject": _R.category,
    "keywords": _R.category,
    "media_category": _R.media_category,
    "author": _R.author,
    "dc_creator": _R.author,
    "dc_author": _R.author,
    "managingeditor": _R.author,
    "url": _R.href,
    "uri": _R.href,
    "homepage": _R.href,
    "enclosure": _R.ignored,
    "name": _R.ignored,
    "email": _R.ignored,
    "width": _R.ignored,
    "height": _R.ignored,
    "source": _R.source,
    "media_content": _R.media_content,
    "media_thumbnail": _R.media_thumbnail,
    "media_group": _R.media_group,
}


#: Absolute http(s) URIs that urljoin returns unchanged whatever the base: a plain ASCII host,
#: no whitespace or controls, no ";" params, no empty "?" or "#" (which urlunparse would drop).
_UNCHANGED_BY_URLJOIN = re.compile(
    r"https?://[\w.\-:@!$&'()*+,=%~]+(?:/[^\s\x00-\x1f\x7f;?#]*)?(?:\?[^\s\x00-\x1f\x7f;#]+)?(?:#[^\s\x00-\x1f\x7f;]+)?",
    re.ASCII,
)


#: A relative reference of one plain path segment ("1000", "job-7"): joined by replacing the last
#: segment of the base's path, the same for every such segment.
_PLAIN_SEGMENT = re.compile(r"[A-Za-z0-9_\-~%]+")


class _Resolver:
    """feedparser's resolve_uri against one base URI (without one, only extra slashes after
    "scheme://" go), with urljoin skipped where its answer is known: an absolute link it would
    not change, or a plain segment appended to the base's directory (both checked against
    urljoin by tests/fetcher/test_fastparse.py)."""

    __slots__ = ("base", "directory")

    def __init__(self, base: str) -> None:
        self.base = base
        joined = _urljoin(base, "x") if base else ""
        self.directory = joined[:-1] if joined.endswith("x") else None

    def __call__(self, uri: str) -> str:
        base = self.base
        if not base:
            return _urljoin("", uri) if ":///" in uri else uri
        if _UNCHANGED_BY_URLJOIN.fullmatch(uri):
            return uri
        if self.directory is not None and _PLAIN_SEGMENT.fullmatch(uri):
            return self.directory + uri
        return _urljoin(base, uri)


@cache
def _reads_ascii_as_ascii(charset: str) -> bool:
    """Whether ASCII bytes decode to the same text in this charset (UTF-8, Latin-1, cp1251...)."""
    ascii_bytes = bytes(range(128))
    try:
        return ascii_bytes.decode(charset) == ascii_bytes.decode("ascii")
    except (LookupError, UnicodeDecodeError):
        return False


def _check_prolog(body: bytes, charset: str | None = None) -> bytes:
    """What feedparser would decode as UTF-8 without complaint (given the HTTP header's
    ``charset``, if any), as XML 1.0 without a DOCTYPE (feedparser rewrites both). Returns the
    body without its BOM."""
    if body.startswith(_OTHER_ENCODING_MARKERS):
        raise _Unsure
    bom = body.startswith(codecs.BOM_UTF8)
    text = body[3:] if bom else body
    match = RE_XML_PI_ENCODING.match(text)
    declared = match.group(1).decode("utf-8", "replace").lower() if match else ""
    if charset is not None:
        if text.isascii() and not bom:
            if not (_reads_ascii_as_ascii(charset) and (declared in _UTF8 or declared in _ASCII_ENCODINGS)):
                raise _Unsure
        elif charset != "utf-8" or declared not in _UTF8:
            raise _Unsure  # libxml2 would follow the declaration, or the text is not UTF-8
    if declared in _UTF8:
        try:
            text.decode("utf-8")
        except UnicodeDecodeError:
            raise _Unsure from None
    elif not (declared in _ASCII_ENCODINGS and text.isascii()):
        raise _Unsure
    version = _XML_VERSION.match(text)
    if version and version.group(1) != b"1.0":
        raise _Unsure
    first_element = _FIRST_ELEMENT.search(text)
    if b"<!DOCTYPE" in text[: first_element.start() if first_element else len(text)].upper():
        raise _Unsure
    return text


def _check_head(head: bytes, ascii_body: bool, charset: str | None) -> None:
    """:func:`_check_prolog` for a streamed body, from its first bytes and whether it is all
    ASCII. Stricter where the head can't tell (a BOM on a non-UTF-8 declaration, no element
    in the head); invalid UTF-8 further on is libxml2's to find (not well-formed: unsure)."""
    if head.startswith(_OTHER_ENCODING_MARKERS):
        raise _Unsure
    bom = head.startswith(codecs.BOM_UTF8)
    text = head[3:] if bom else head
    match = RE_XML_PI_ENCODING.match(text)
    declared = match.group(1).decode("utf-8", "replace").lower() if match else ""
    if charset is not None:
        if ascii_body and not bom:
            if not (_reads_ascii_as_ascii(charset) and (declared in _UTF8 or declared in _ASCII_ENCODINGS)):
                raise _Unsure
        elif charset != "utf-8" or declared not in _UTF8:
            raise _Unsure
    if declared not in _UTF8 and not (declared in _ASCII_ENCODINGS and ascii_body):
        raise _Unsure
    version = _XML_VERSION.match(text)
    if version and version.group(1) != b"1.0":
        raise _Unsure
    first_element = _FIRST_ELEMENT.search(text)
    if first_element is None or b"<!DOCTYPE" in text[: first_element.start()].upper():
        raise _Unsure


# RFC 822 dates as feeds almost always write them ("Fri, 27 Nov 2026 09:00:00 +0000"), read by
# position; anything else goes through feedparser's own chain of date parsers.
_DAYS = frozenset({"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"})
_MONTHS = {name: f"{number:02d}" for number, name in enumerate(calendar.month_abbr) if name}
_UTC_NAMES = frozenset({"GMT", "UTC"})


def parse_date(value: str) -> datetime | time.struct_time | None:
    """feedparser's ``_parse_date``; the common RFC 822 form straight to the datetime it means."""
    size = len(value)
    if (
        (size == 31 or size == 29)
        and value[3:5] == ", "
        and value[:3] in _DAYS
        and value[7] == value[11] == value[16] == value[25] == " "
        and (month := _MONTHS.get(value[8:11]))
    ):
        zone = value[26:]
        if zone in _UTC_NAMES:
            zone = "+00:00"
        elif not (size == 31 and zone[0] in "+-" and zone[1:].isdigit()):
            return _parse_date(value)
        try:
            stamp = datetime.fromisoformat(f"{value[12:16]}-{month}-{value[5:7]}T{value[17:25]}{zone}")
            return stamp if stamp.tzinfo is UTC else stamp.astimezone(UTC)
        except (ValueError, OverflowError):
            pass
    return _parse_date(value)


_NO_BASE = _Resolver("")
