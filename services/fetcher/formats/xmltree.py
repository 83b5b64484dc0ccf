"""Reading an XML document of job items into trees of dicts, safely and with the right charset.

The parser is configured as the RSS fast path's: no DTD loading, no network, no entity
resolution, libxml2's default size limits. The HTTP header's charset wins over the XML
declaration (RFC 7303). A malformed document is read again in libxml2's recover mode and its
complete items kept, with a warning on the run, as feedparser does for RSS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lxml import etree

from services.fetcher.entries import FeedParseError
from services.fetcher.formats.detect import describe
from services.fetcher.formats.document import Document
from services.fetcher.xmlguard import LXML_OPTIONS


@dataclass
class XmlItems:
    root: str  # the root element's local name, lower case
    items: list[dict[str, Any]]
    warning: str | None = None


def local(tag: object) -> str:
    return etree.QName(tag).localname.lower() if isinstance(tag, str) else ""


def _parser(charset: str | None, recover: bool) -> etree.XMLParser:
    return etree.XMLParser(encoding=charset, recover=recover, **LXML_OPTIONS)


def parse_root(document: Document) -> tuple[etree._Element, str | None]:
    """The root element, and a warning when the document had to be recovered."""
    try:
        return etree.fromstring(document.body, _parser(document.charset, recover=False)), None
    except etree.XMLSyntaxError as exc:
        error = exc
    except (ValueError, LookupError) as exc:
        raise FeedParseError(f"unreadable XML ({exc}); {describe(document)}") from None
    root = etree.fromstring(document.body, _parser(document.charset, recover=True))
    if root is None:
        raise FeedParseError(f"not well-formed XML ({error}); {describe(document)}")
    return root, f"malformed XML ({error})"


def element_tree(element: etree._Element) -> Any:
    """An element as text (a leaf without attributes) or a dict of its children and attributes."""
    children = [child for child in element if isinstance(child.tag, str)]
    text = (element.text or "").strip()
    if not children and not element.attrib:
        return text
    tree: dict[str, Any] = {f"@{local(key)}": value for key, value in element.attrib.items()}
    for child in children:
        name = local(child.tag)
        value = element_tree(child)
        if name in tree:
            existing = tree[name]
            tree[name] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            tree[name] = value
    if text:
        tree["#text"] = text
    return tree


def find_items(root: etree._Element, path: str | None, names: frozenset[str]) -> list[etree._Element]:
    """The item elements: along ``path`` (element names below the root) when given, else the
    root's children named one of ``names`` (or the root itself when it is one)."""
    if path:
        steps = path.strip("/").lower().split("/")
        if steps[0] == local(root.tag) and not any(local(child.tag) == steps[0] for child in root):
            steps = steps[1:]  # written from the root element itself: "jobs/job"
        level = [root]
        for step in steps:
            level = [child for node in level for child in node if local(child.tag) == step]
        return level
    if local(root.tag) in names:
        return [root]
    return [child for child in root if local(child.tag) in names]
