"""What the HTTP response says reaches both parse paths: the header's charset wins over the XML
declaration (RFC 7303), and relative links resolve against the final URL and ``xml:base``."""

from __future__ import annotations

import codecs
import warnings

import pytest

from devstack.samplefeeds import atom_feed, jobicy_feed, sample_jobs
from services.fetcher.fastparse import parse_fast
from services.fetcher.parse import parse_feed, parse_with_feedparser
from tests.fetcher.test_fastparse_corpus import differences

TITLE = "Группа «Серебряная» ищет инженера"
BASE = "https://jobs.example/feeds/all.xml"


def cp1251_feed(declaration: bytes) -> bytes:
    return (
        declaration
        + b'<rss version="2.0"><channel><title>t</title><item><title>'
        + TITLE.encode("cp1251")
        + b"</title><guid>job-1</guid></item></channel></rss>"
    )


def relative_feed() -> bytes:
    return (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>Tagged</title><link>/gulpjs/gulp/releases/tag/v3.9.0</link></item>"
        b'<item><title>Permalink</title><guid isPermaLink="true">jobs/2</guid></item>'
        b"<item><title>Absolute</title><link>https://elsewhere.example/x</link></item>"
        b"</channel></rss>"
    )


def quiet_feedparser(body: bytes, **kwargs: str) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return parse_with_feedparser(body, **kwargs)


@pytest.mark.parametrize(
    "declaration", [b"", b'<?xml version="1.0" encoding="utf-8"?>'], ids=["none", "stale-utf-8"]
)
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "feedparser"])
def test_the_header_charset_wins_over_the_declaration(declaration: bytes, fast: bool) -> None:
    parsed = parse_feed(
        cp1251_feed(declaration), fast=fast, content_type="text/xml; charset=windows-1251", base_url=BASE
    )
    assert parsed.entries[0].title == TITLE
    assert parsed.warning is None


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "feedparser"])
def test_a_bom_wins_over_the_header_charset(fast: bool) -> None:
    utf16 = ('<?xml version="1.0" encoding="UTF-16"?>' + cp1251_feed(b"").decode("cp1251")).encode("utf-16")
    parsed = parse_feed(utf16, fast=fast, content_type="application/rss+xml; charset=utf-8")
    assert (parsed.entries[0].title, parsed.warning) == (TITLE, None)
    utf8 = codecs.BOM_UTF8 + cp1251_feed(b"").decode("cp1251").encode("utf-8")
    parsed = parse_feed(utf8, fast=fast, content_type="text/xml; charset=windows-1251")
    assert (parsed.entries[0].title, parsed.warning) == (TITLE, None)


def test_without_a_header_charset_the_declaration_still_counts() -> None:
    body = b'<?xml version="1.0" encoding="windows-1251"?>' + cp1251_feed(b"")
    assert parse_feed(body, content_type="text/xml").entries[0].title == TITLE


def test_the_fast_path_steps_aside_when_the_header_and_declaration_disagree() -> None:
    body = cp1251_feed(b'<?xml version="1.0" encoding="utf-8"?>')
    assert parse_fast(body, charset="cp1251") is None
    utf8 = cp1251_feed(b"").replace(TITLE.encode("cp1251"), TITLE.encode("utf-8"))
    assert parse_fast(utf8, charset="utf-8") is not None
    assert parse_fast(utf8, charset="cp1251") is None  # non-ASCII UTF-8 text read as cp1251


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "feedparser"])
def test_relative_links_resolve_against_the_final_url(fast: bool) -> None:
    entries = parse_feed(relative_feed(), fast=fast, base_url=BASE).entries
    assert [entry.link for entry in entries] == [
        "https://jobs.example/gulpjs/gulp/releases/tag/v3.9.0",
        "https://jobs.example/feeds/jobs/2",
        "https://elsewhere.example/x",
    ]
    assert entries[1].guid == "jobs/2"  # an identity is kept as written: a moved feed keeps its ids


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "feedparser"])
def test_guids_and_atom_ids_are_never_resolved(fast: bool) -> None:
    rss = (
        b'<rss version="2.0"><channel><title>t</title><item><title>A</title><guid>12345</guid></item>'
        b"</channel></rss>"
    )
    [item] = parse_feed(rss, fast=fast, base_url=BASE).entries
    assert (item.guid, item.link) == ("12345", "https://jobs.example/feeds/12345")
    atom = (
        b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        b"<id>feed-1</id><entry><title>B</title><id>entry-7</id></entry></feed>"
    )
    [entry] = parse_feed(atom, fast=fast, base_url=BASE).entries
    assert (entry.guid, entry.id) == ("entry-7", "entry-7")


def test_xml_base_applies_on_top_of_the_final_url() -> None:
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
        b'xml:base="/board/"><title>t</title><id>tag:x,2026:f</id><entry><title>One</title>'
        b'<id>tag:x,2026:1</id><link href="jobs/1"/></entry></feed>'
    )
    [entry] = parse_feed(body, base_url=BASE).entries
    assert entry.link == "https://jobs.example/board/jobs/1"


@pytest.mark.parametrize("charset", [None, "utf-8"])
def test_the_fast_path_agrees_with_feedparser_given_the_response(charset: str | None) -> None:
    content_type = f"application/rss+xml; charset={charset}" if charset else "application/rss+xml"
    for body in (relative_feed(), jobicy_feed(sample_jobs(20, seed=4)), atom_feed(sample_jobs(20, seed=5))):
        fast = parse_fast(body, charset=charset, base_url=BASE)
        assert fast is not None
        slow = quiet_feedparser(body, content_type=content_type, base_url=BASE)
        assert differences(slow, fast) == []  # type: ignore[arg-type]
