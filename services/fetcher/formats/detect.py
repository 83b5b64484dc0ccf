"""Which format a document is in, when a feed says ``format = "auto"`` (the default).

The rule, first match wins (docs/formats.md#detection):

1. the feed URL's host (then the final URL's): the public job-board APIs of applicant-tracking
   systems (boards-api.greenhouse.io, api.lever.co, api.ashbyhq.com, api.smartrecruiters.com,
   *.recruitee.com/api/, apply.workable.com/api/, www.workable.com/api/);
2. JSON (a body starting with ``{``/``[``, or a JSON Content-Type on a body that doesn't start
   with ``<``): ``jsonfeed`` when its ``version`` is a jsonfeed.org URL; any other JSON is
   unsupported without a mapping;
3. XML whose root element is one of :data:`JOBXML_ROOTS` (``source``, ``jobs``, ``job``,
   ``positions``, ``workzag-jobs`` ...) -> ``jobxml``;
4. anything else -> ``rss`` (RSS 0.9x/1.0/2.0, Atom; feedparser also reads some odd documents),
   which names the root element and the content type when it can't read it.
"""

from __future__ import annotations

import codecs
import json
import re
from urllib.parse import urlsplit

from services.fetcher.entries import FeedParseError
from services.fetcher.formats.document import Document

#: Root elements of the job-board XML family (Indeed, ZipRecruiter, Jooble, Jobrapido, Talroo,
#: WhatJobs, ATS exports) and Personio's.
JOBXML_ROOTS = frozenset({"source", "jobs", "job", "joblist", "positions", "vacancies", "workzag-jobs"})
_JSON_TYPES = ("application/json", "application/feed+json", "text/json")
_PROLOG = re.compile(rb"\s*(?:<\?.*?\?>\s*|<!--.*?-->\s*|<!DOCTYPE[^>\[]*(?:\[.*?\])?\s*>\s*)*", re.S)
_JSON_FEED_VERSION = re.compile(rb'"version"\s*:\s*"https?://jsonfeed\.org/version/')
_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)")


def api_format(url: str) -> str | None:
    """The ATS API a URL belongs to, from its host (and path); None for any other URL."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:  # a malformed URL ("http://[::1"): the download names the problem
        return None
    path = parts.path.lower()
    if host == "boards-api.greenhouse.io":
        return "greenhouse"
    if host == "api.lever.co":
        return "lever"
    if host == "api.ashbyhq.com" and path.startswith("/posting-api/"):
        return "ashby"
    if host == "api.smartrecruiters.com":
        return "smartrecruiters"
    if host.endswith(".recruitee.com") and path.startswith("/api/"):
        return "recruitee"
    if host in ("apply.workable.com", "www.workable.com", "workable.com") and path.startswith("/api/"):
        return "workable"
    return None


def detect(document: Document, feed_url: str) -> str:
    """The format name for a feed whose format is "auto"."""
    return detect_from_head(document, feed_url) or _json_format(document)


def detect_from_head(document: Document, feed_url: str) -> str | None:
    """:func:`detect` from the URLs and the document's first 4 KiB (all of it that the streamed
    path has before reading it); None for JSON that isn't recognised by then."""
    for url in (feed_url, document.url):
        found = api_format(url) if url else None
        if found:
            return found
    head = document.body[:4096]
    first = head.lstrip().removeprefix(codecs.BOM_UTF8)[:1]
    if first in (b"{", b"[") or (first != b"<" and document.media_type in _JSON_TYPES):
        return "jsonfeed" if _JSON_FEED_VERSION.search(head) else None
    root = root_element(head)
    if root in JOBXML_ROOTS:
        return "jobxml"
    return "rss"


def root_element(head: bytes) -> str | None:
    """The local name (lower case) of the document's first element, from its first bytes."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        head = head.decode("utf-16", "ignore").encode("utf-8")
    head = head.removeprefix(codecs.BOM_UTF8)
    prolog = _PROLOG.match(head)
    match = _ROOT.match(head, prolog.end() if prolog else 0)
    return match.group(1).decode("ascii", "replace").lower() if match else None


def describe(document: Document) -> str:
    """What a document is, for an error: its root element or its start, and its content type."""
    root = root_element(document.body[:4096])
    what = f"root element <{root}>" if root else f"starts with {document.body[:40]!r}"
    return f"{what}, content type {document.content_type or 'not given'}"


def _json_format(document: Document) -> str:
    """JSON whose first 4 KiB don't give a JSON Feed ``version``: decoded whole to find it."""
    try:
        data = json.loads(document.body)
    except ValueError as exc:
        raise FeedParseError(f"unreadable JSON ({exc}); {describe_json_type(document)}") from None
    if isinstance(data, dict) and str(data.get("version", "")).startswith(
        ("https://jsonfeed.org/version/", "http://jsonfeed.org/version/")
    ):
        return "jsonfeed"
    keys = ", ".join(sorted(str(key) for key in data)[:8]) if isinstance(data, dict) else "an array"
    raise FeedParseError(
        f"unsupported JSON document (keys: {keys}; {describe_json_type(document)}): "
        'set the feed\'s format, or format = "json" with items and fields'
    )


def describe_json_type(document: Document) -> str:
    return f"content type {document.content_type or 'not given'}"
