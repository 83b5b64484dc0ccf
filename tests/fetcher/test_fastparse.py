"""The fast parse path: what it accepts, what it leaves to feedparser, and generated items.

The generated RSS and Atom items mix the elements job feeds use (in any order, repeated or
missing) with awkward text: entities, CDATA, surrounding space, non-ASCII, C1 controls that
feedparser maps from cp1252, double-encoded UTF-8, relative-looking links, many date forms.
For each one the fast path must accept the feed and read it exactly as feedparser does.
"""

from __future__ import annotations

import calendar
import warnings
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape, quoteattr

from feedparser.datetimes import _parse_date
from feedparser.urls import _urljoin
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devstack.samplefeeds import jobicy_feed, sample_jobs
from services.fetcher.fastparse import _Resolver, parse_date, parse_fast
from services.fetcher.parse import parse_feed, parse_with_feedparser
from tests.fetcher.test_fastparse_corpus import differences

RSS_NAMESPACES = (
    'xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:media="http://search.yahoo.com/mrss/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:job_listing="https://jobicy.com" '
    'xmlns:atom="http://www.w3.org/2005/Atom"'
)


def rss(items: list[str]) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" {RSS_NAMESPACES}><channel>'
        f"<title>Jobs</title><link>https://jobs.example/</link><description>d</description>"
        + "".join(f"<item>{item}</item>" for item in items)
        + "</channel></rss>"
    ).encode()


def atom(entries: list[str]) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>Jobs</title><id>tag:jobs.example,2026:feed</id><updated>2026-11-27T09:00:00Z</updated>"
        + "".join(f"<entry>{entry}</entry>" for entry in entries)
        + "</feed>"
    ).encode()


def same_as_feedparser(body: bytes) -> None:
    fast = parse_fast(body)
    assert fast is not None, "the fast path refused a plain feed"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert differences(parse_with_feedparser(body), fast) == []


# Text --------------------------------------------------------------------------------------

# XML 1.0 characters, weighted towards what trips parsers up.
awkward = st.sampled_from(
    [
        "&",
        "<",
        ">",
        '"',
        "'",
        " ",
        "\n",
        "\t",
        "&amp;",
        "&lt;b&gt;",
        "é",
        "Ã©",
        "â€™",
        "\x85",
        "\x96",
        "\xa0",
        "€",
        "😀",
        "://",
        ":///",
        "a",
    ]
)
plain_chars = st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]) | st.sampled_from(
    ["\t", "\n", "\x85", "\x9f"]
)
text = (
    st.lists(awkward | plain_chars, max_size=12)
    .map("".join)
    .filter(lambda s: "\ufffe" not in s and "\uffff" not in s)
)


@st.composite
def xml_text(draw: st.DrawFn) -> str:
    """Some text as element content: escaped, or in CDATA."""
    value = draw(text)
    if draw(st.booleans()) and "]]>" not in value:
        return f"<![CDATA[{value}]]>"
    return escape(value)


def dates() -> st.SearchStrategy[str]:
    moment = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1))
    offset = st.integers(-14 * 60, 14 * 60).map(lambda m: timedelta(minutes=m))
    aware = st.builds(lambda d, o: d.replace(microsecond=0, tzinfo=UTC) + o, moment, offset)
    return st.one_of(
        aware.map(lambda d: format_datetime(d)),  # RFC 822 "+0000"
        aware.map(lambda d: format_datetime(d, usegmt=True)),
        aware.map(lambda d: d.isoformat()),
        st.sampled_from(
            [
                "",
                "yesterday",
                "Fri, 31 Feb 2026 10:00:00 +0000",
                "Fri, 27 Nov 2026 24:00:00 +0000",
                "Thu, 5 Nov 2026 08:00:00 EST",
                "2026-11-27",
                "Fri, 27 Nov 26 09:00:00 GMT",
            ]
        ),
        text,
    )


# RSS items ---------------------------------------------------------------------------------


ANY_TEXT = xml_text()


def element(tag: str, body: st.SearchStrategy[str] = ANY_TEXT) -> st.SearchStrategy[str]:
    return body.map(lambda value: f"<{tag}>{value}</{tag}>")


permalink = st.sampled_from(["", ' isPermaLink="false"', ' isPermaLink="true"', ' isPermaLink="True"'])
rss_children = st.one_of(
    element("title"),
    element("link"),
    st.builds(lambda value: f'<atom:link rel="alternate" type="text/html" href={quoteattr(value)}/>', text),
    st.builds(lambda attrs, value: f"<guid{attrs}>{value}</guid>", permalink, xml_text()),
    element("id"),
    element("description"),
    element("content:encoded"),
    element("pubDate", dates().map(escape)),
    element("dc:date", dates().map(escape)),
    element("category"),
    st.builds(
        lambda domain, value: f"<category domain={quoteattr(domain)}>{value}</category>", text, xml_text()
    ),
    element("dc:subject"),
    element("author"),
    element("dc:creator"),
    element("comments"),
    st.builds(lambda url: f'<media:content url={quoteattr(url)} medium="image"/>', text),
    st.builds(
        lambda url, value: f"<media:thumbnail url={quoteattr(url)}>{value}</media:thumbnail>",
        text,
        xml_text(),
    ),
    element("media:thumbnail"),
    st.builds(lambda url: f'<enclosure url={quoteattr(url)} type="image/png" length="1"/>', text),
    st.builds(lambda url, value: f"<source url={quoteattr(url)}>{value}</source>", text, xml_text()),
    element("job_listing:company"),
    element("job_listing:location"),
    element("job_listing:job_type"),
    element("job_listing:salary"),
    element("job_listing:Salary_Range"),
    st.builds(lambda value: f'<job_listing:remote value="yes">{value}</job_listing:remote>', xml_text()),
    element("date"),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(rss_children, max_size=14).map("\n".join), min_size=1, max_size=4))
def test_generated_rss_items_read_as_feedparser_reads_them(items: list[str]) -> None:
    same_as_feedparser(rss(items))


# Atom entries ------------------------------------------------------------------------------

text_type = st.sampled_from(["", ' type="text"', ' type="html"'])
atom_children = st.one_of(
    st.builds(lambda kind, value: f"<title{kind}>{value}</title>", text_type, xml_text()),
    st.builds(lambda kind, value: f"<summary{kind}>{value}</summary>", text_type, xml_text()),
    st.builds(lambda kind, value: f"<content{kind}>{value}</content>", text_type, xml_text()),
    st.builds(
        lambda rel, kind, href: f"<link{rel}{kind} href={quoteattr(href)}/>",
        st.sampled_from(["", ' rel="alternate"', ' rel="self"', ' rel="enclosure"']),
        st.sampled_from(["", ' type="text/html"', ' type="application/pdf"']),
        text,
    ),
    element("id"),
    element("updated", dates().map(escape)),
    element("published", dates().map(escape)),
    st.builds(
        lambda parts: "<author>" + "".join(parts) + "</author>",
        st.lists(st.one_of(element("name"), element("email"), element("uri")), max_size=3),
    ),
    st.builds(
        lambda term, label: f"<category term={quoteattr(term)}{label}/>",
        text,
        st.sampled_from(["", ' label="L"', ' scheme="s"']),
    ),
    element("rights"),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(atom_children, max_size=10).map("".join), min_size=1, max_size=3))
def test_generated_atom_entries_read_as_feedparser_reads_them(entries: list[str]) -> None:
    same_as_feedparser(atom(entries))


# Dates -------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(dates())
def test_dates_parse_as_feedparser_parses_them(value: str) -> None:
    expected = _parse_date(value)
    got = parse_date(value)
    if isinstance(got, datetime):
        assert expected is not None
        assert got == datetime.fromtimestamp(calendar.timegm(expected), UTC)
        assert got.tzinfo is UTC
    else:
        assert got == expected


# What the fast path leaves to feedparser -----------------------------------------------------

JOBICY = jobicy_feed(sample_jobs(3))


def test_plain_jobicy_feed_is_taken() -> None:
    assert parse_fast(JOBICY) is not None


def test_refusals() -> None:
    refused = {
        "DOCTYPE with entities": JOBICY.replace(b"<rss ", b'<!DOCTYPE rss [<!ENTITY x "y">]>\n<rss ', 1),
        "RSS 1.0": b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"><channel rdf:about="x"><title>t</title></channel><item rdf:about="i"><title>x</title></item></rdf:RDF>',
        "RSS 0.91": JOBICY.replace(b'version="2.0"', b'version="0.91"'),
        "Atom 0.3": b'<feed version="0.3" xmlns="http://purl.org/atom/ns#"><entry><title>x</title></entry></feed>',
        "malformed": JOBICY[: len(JOBICY) // 2],
        "undefined entity": JOBICY.replace(b"<title>Remote Jobs", b"<title>&nbsp;Remote Jobs"),
        "Latin-1": JOBICY.replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"').replace(
            b"Remote", b"R\xe9mote"
        ),
        "UTF-16": JOBICY.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16"),
        "xml:base": JOBICY.replace(b"<channel>", b'<channel xml:base="https://base.example/">'),
        "XHTML content": JOBICY.replace(
            b"<item>",
            b'<item><content:encoded type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">x</div></content:encoded>',
            1,
        ),
        "markup in an item's title": JOBICY.replace(b"<item>\n<title>", b"<item>\n<title><b>New</b> ", 1),
        "iTunes element in an item": JOBICY.replace(
            b"<item>",
            b'<item><itunes:duration xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">1</itunes:duration>',
            1,
        ),
        "HTML page": b"<!DOCTYPE html><html><body>not a feed</body></html>",
        "empty": b"",
    }
    taken = [name for name, body in refused.items() if parse_fast(body) is not None]
    assert taken == []


def test_parse_feed_falls_back_and_can_be_switched_off() -> None:
    malformed = JOBICY[: JOBICY.index(b"</item>") + len(b"</item>")]
    assert parse_fast(malformed) is None
    recovered = parse_feed(malformed)
    assert recovered.warning and len(recovered.entries) == 1  # feedparser's recovery
    assert parse_feed(JOBICY) == parse_feed(JOBICY, fast=False)


# Link resolution against a base URI ----------------------------------------------------------

URI_PARTS = st.text(alphabet="abcXYZ019/.;?#%:@!$&'()*+,=~-_ \t[]é\x01", max_size=25)


@settings(max_examples=3000, deadline=None)
@given(
    base=st.sampled_from(
        ["https://jobs.example/feeds/a.xml", "http://x.example/", "https://x.example/a/b?q#f", "https://x.example",
         "https://x.example/a/../b/c", "http://[::1]:8080/p/", "ftp://files.example/d/"]
    ),
    prefix=st.sampled_from(["https://", "http://", "HTTP://", "https:/", "", "/", "./", "../"]),
    rest=URI_PARTS,
)  # fmt: skip
def test_the_resolver_shortcuts_agree_with_urljoin(base: str, prefix: str, rest: str) -> None:
    uri = prefix + rest
    assert _Resolver(base)(uri) == _urljoin(base, uri)
