"""Hostile and broken feed bytes through the parse and normalise path: a clear error or a correct
import, within bounded time and memory.

Every parse test runs against both entry points of :mod:`services.fetcher.parse`:
``parse_with_feedparser``, and ``parse_feed``, which picks the fast lxml path when it can (what the
fetcher uses), so the fast path gets the same hostile inputs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from contextlib import suppress
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from devstack.feedserver import FeedServer
from devstack.samplefeeds import plain_rss_feed, sample_jobs
from job_importer.contract import (
    EXTRA_KEY_CHARS,
    JOB_ITEMS,
    MAX_ID_CHARS,
    MAX_SHORT_CHARS,
    MAX_TEXT_CHARS,
    JobItem,
)
from job_importer.failed_items import ItemFailure
from job_importer.settings import FeedConfig
from services.fetcher import entries, fastparse, parse
from services.fetcher.chunks import Chunker, ItemTooLarge
from services.fetcher.entries import FeedParseError, ParsedFeed
from services.fetcher.normalize import _UNSAFE_CHARS, normalize
from tests.fetcher.hostile import bounded, rss

Parser = Callable[[bytes], ParsedFeed]
PARSERS: list[Parser] = [parse.parse_feed, parse.parse_with_feedparser]
FEED = FeedConfig(url="https://hostile.example/feed", source="hostile.example")
ITEM = "<item><title>Caf\u00e9 - Z\u00fcrich</title><guid>g1</guid><description>d\u00e9j\u00e0 vu</description></item>"


@pytest.fixture(params=PARSERS, ids=lambda parser: parser.__name__)
def parser(request: pytest.FixtureRequest) -> Parser:
    return request.param


def import_all(
    parser: Parser, body: bytes, feed: FeedConfig = FEED
) -> tuple[ParsedFeed, list[JobItem], list[ItemFailure]]:
    parsed = parser(body)
    normalized = normalize(parsed.entries, feed)
    assert len(normalized.items) + len(normalized.failures) + normalized.duplicates == len(parsed.entries)
    return parsed, normalized.items, normalized.failures


ENCODED = {
    "utf-8 with BOM": b"\xef\xbb\xbf" + rss(ITEM).encode(),
    "utf-16 with BOM": rss(ITEM, '<?xml version="1.0" encoding="UTF-16"?>').encode("utf-16"),
    "utf-16 without declaration": rss(ITEM, "").encode("utf-16"),
    "utf-32": rss(ITEM, '<?xml version="1.0" encoding="UTF-32"?>').encode("utf-32"),
    "latin-1 declared as utf-8": rss(ITEM).encode("latin-1"),
    "windows-1252 declared": rss(ITEM, '<?xml version="1.0" encoding="windows-1252"?>').encode("cp1252"),
    "utf-8 BOM, utf-16 declared": b"\xef\xbb\xbf"
    + rss(ITEM, '<?xml version="1.0" encoding="UTF-16"?>').encode(),
}


@pytest.mark.parametrize("body", ENCODED.values(), ids=ENCODED.keys())
def test_encodings_and_byte_order_marks_are_decoded(parser: Parser, body: bytes) -> None:
    _, [item], failures = import_all(parser, body)
    assert (item.title, item.description, failures) == ("Café - Zürich", "déjà vu", [])


def test_invalid_utf8_is_imported_as_text_with_a_warning(parser: Parser) -> None:
    body = rss(ITEM).encode().replace("Zürich".encode(), b"Z\xff\xferich")
    parsed, [item], _ = import_all(parser, body)
    assert parsed.warning and "malformed" in parsed.warning  # recorded on the run
    assert item.title.startswith("Caf") and item.title.endswith("rich")
    item.title.encode("utf-8")  # valid text: storable as it is


@pytest.mark.parametrize("raw", ["\x01\x07\x1b", "\x00", "\x7f\x85\x9f", "\ufffe\uffff"])
def test_control_characters_never_reach_a_stored_field(parser: Parser, raw: str) -> None:
    body = rss(ITEM.replace("Caf", f"Ca{raw}f").replace("vu", f"v{raw}u")).encode("utf-8", "surrogatepass")
    _, [item], _ = import_all(parser, body)
    # Removed; or, for C1 controls, read as the Windows-1252 characters they usually stand for.
    assert not _UNSAFE_CHARS.search(item.title + (item.description or ""))
    assert item.title.startswith("Ca") and item.title.endswith("fé - Zürich")
    assert item.description and item.description.startswith("déjà v") and item.description.endswith("u")


@pytest.mark.parametrize(
    "body",
    [
        b"   \n\t  ",
        b'<?xml version="1.0"?>',
        b"<rss",
        b"\x00\x01\x02\xff" * 64,
        b'<?xml version="1.0"?><not-a-feed><x/></not-a-feed>',
        b"<html><head><title>Jobs</title></head><body><h1>Sorry</h1></body></html>",
        b'{"items": [{"title": "JSON is not a feed"}]}',
    ],
    ids=["whitespace", "declaration only", "cut after 4 bytes", "binary", "other xml", "html", "json"],
)
def test_what_is_not_a_feed_is_a_clear_error(parser: Parser, body: bytes) -> None:
    try:
        parsed = parser(body)
    except FeedParseError as exc:
        assert str(exc)  # says why
    else:
        assert parsed.entries == []  # feedparser reads some of these as an empty feed: nothing to import


def test_an_empty_feed_imports_nothing(parser: Parser) -> None:
    for body in (rss("").encode(), b'<rss version="2.0"/>', b'<feed xmlns="http://www.w3.org/2005/Atom"/>'):
        parsed, items, failures = import_all(parser, body)
        assert (parsed.entries, items, failures) == ([], [], [])


@pytest.mark.parametrize(
    "cut",
    ["</item>", "<guid>", "</channel>"],
    ids=["after an item", "inside an item", "before the end"],
)
def test_truncated_and_malformed_xml_recovers_the_complete_items(parser: Parser, cut: str) -> None:
    body = plain_rss_feed(sample_jobs(20, seed=3))
    position = body.index(cut.encode(), len(body) // 2)
    parsed, items, _ = import_all(parser, body[:position] + b"<<</garbage & more>")
    assert parsed.warning and len(items) >= 9  # every item before the cut
    assert {item.title for item in items} <= {job.title for job in sample_jobs(20, seed=3)}


def test_external_entities_are_never_read(parser: Parser, tmp_path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    with FeedServer({"/entity": b"REMOTE-MARKER"}) as server:
        remote = server.url("/entity")
        bodies = [
            f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY s SYSTEM "file://{secret}">]>{rss("<item><title>a &s;</title><guid>g</guid><description>&s;</description></item>", "")}',
            f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY % p SYSTEM "file://{secret}"> %p;]>{rss(ITEM, "")}',
            f'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "file://{secret}">{rss(ITEM, "")}',
            f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY r SYSTEM "{remote}">]>{rss("<item><title>a &r;</title><guid>g</guid></item>", "")}',
            f'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "{remote}">{rss(ITEM, "")}',
        ]
        for body in bodies:
            with bounded(seconds=10, megabytes=50):
                try:
                    parsed = parser(body.encode())
                except FeedParseError:
                    continue
            text = json.dumps([entry.__dict__ for entry in parsed.entries], default=str)
            assert "MARKER" not in text
        assert server.hits["/entity"] == 0  # no request was ever made for an entity or a DTD


def test_entity_expansion_bombs_stay_small(parser: Parser) -> None:
    laughs = "".join(f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">' for n in range(1, 10))
    billion = f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY l0 "lol">{laughs}]>{rss("<item><title>&l9;</title><guid>b</guid></item>", "")}'
    quadratic = f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "{"A" * 50_000}">]>{rss(f"<item><title>q</title><guid>q</guid><description>{'&a;' * 50_000}</description></item>", "")}'
    for body in (billion, quadratic):  # fully expanded: 3 GB and 2.5 GB
        with bounded(seconds=30, megabytes=200):
            try:
                _, items, _ = import_all(parser, body.encode())
            except FeedParseError:
                continue
        assert all(len(item.title) + len(item.description or "") <= 2 * MAX_TEXT_CHARS for item in items)


def padded_entity_bomb(value_chars: int = 10_000, references: int = 2_000, padding: int = 400_000) -> bytes:
    """One plain-text internal entity referenced many times, behind enough comment padding that
    expat's amplification rule (at most 100 times the input) admits it: 20,000,000 characters."""
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "{"A" * value_chars}">]><!--{"p" * padding}-->'
        + rss(
            f"<item><title>t</title><guid>p</guid><description>{'&a;' * references}</description></item>", ""
        )
    )
    return body.encode()


def test_padded_entity_expansion_is_refused_with_a_clear_error(parser: Parser) -> None:
    # The sample: 4 MB of padding admitted 4,000 references to a 100 KB entity (a
    # 400,000,000-character description, fetcher at 2 GB). Here a smaller one of the same shape.
    with bounded(seconds=30, megabytes=50), pytest.raises(FeedParseError, match="internal XML entities"):
        parser(padded_entity_bomb())


def test_the_fast_path_refuses_the_same_and_its_parser_never_substitutes_entities() -> None:
    with pytest.raises(FeedParseError, match="internal XML entities"):
        fastparse.parse_fast(padded_entity_bomb())
    document = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "EXPANDED">]><r>&a;&a;</r>'
    root = etree.fromstring(document, fastparse._parser())
    assert "EXPANDED" not in "".join(root.itertext())


def test_a_few_short_entities_still_parse(parser: Parser) -> None:
    body = f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY co "Acme Corp">]>{rss("<item><title>Job at &co;</title><guid>e</guid></item>", "")}'
    parsed = parser(body.encode())
    assert [entry.title for entry in parsed.entries] == ["Job at Acme Corp"]


def test_extremely_long_fields_fail_the_item_naming_the_field(parser: Parser) -> None:
    huge = "x" * 5_000_000
    items_xml = "".join(
        [
            f"<item><title>{'t' * (MAX_SHORT_CHARS + 1)}</title><guid>long-title</guid></item>",
            f"<item><title>ok</title><guid>{'g' * (MAX_ID_CHARS + 1)}</guid></item>",
            f"<item><title>ok</title><guid>long-description</guid><description>{huge}</description></item>",
            "<item><title>fine</title><guid>fine</guid></item>",
        ]
    )
    with bounded(seconds=30, megabytes=300):
        _, items, failures = import_all(parser, rss(items_xml).encode())
    assert [item.guid for item in items] == ["fine"]
    reasons = sorted(failure.reason for failure in failures)
    assert len(reasons) == 3
    assert any(reason.startswith("title:") for reason in reasons)
    assert any("guid" in reason or reason.startswith("id:") for reason in reasons)
    assert any(reason.startswith("description:") for reason in reasons)
    assert all(len(failure.raw) <= 500 for failure in failures)  # excerpts, not the 5 MB


def test_duplicate_guids_in_one_feed_keep_the_first_and_count_the_rest(parser: Parser) -> None:
    entries = "".join(f"<item><title>copy {n}</title><guid>same</guid></item>" for n in range(5))
    _, items, failures = import_all(parser, rss(entries).encode())
    assert [item.title for item in items] == ["copy 0"] and failures == []
    assert normalize(parser(rss(entries).encode()).entries, FEED).duplicates == 4


def test_guids_colliding_across_feeds_stay_apart(parser: Parser) -> None:
    body = rss(ITEM).encode()
    [one] = import_all(parser, body, FeedConfig(url="https://a.example/feed"))[1]
    [two] = import_all(parser, body, FeedConfig(url="https://b.example/jobs"))[1]
    assert one.guid == two.guid == "g1" and one.id != two.id  # the id includes the source


def test_field_names_never_become_operators_or_paths(parser: Parser) -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0" xmlns:job_listing="https://jobicy.com" xmlns:x="urn:x">'
        b"<channel><title>t</title><item><title>T</title><guid>g</guid>"
        b"<job_listing:salary.max>9</job_listing:salary.max><x:a-b>1</x:a-b><weird.el>2</weird.el>"
        b"<job_listing:$where>sleep(1)</job_listing:$where></item></channel></rss>"
    )
    _, [item], _ = import_all(parser, body)
    assert item.extra  # kept, under safe names
    for key in item.extra:
        assert not key.startswith("$") and "." not in key, key


def test_a_large_feed_is_parsed_within_bounds(parser: Parser) -> None:
    """5,000 entries (100,000 run end to end in the long reliability command: docs/reliability.md)."""
    body = plain_rss_feed(sample_jobs(5_000, seed=4, description_bytes=100))
    with bounded(seconds=120, megabytes=1_000) as usage:
        _, items, failures = import_all(parser, body)
        chunker = Chunker(max_items=100, max_bytes=256 * 1024, flush_ms=0)
        chunks = [chunk for item in items for chunk in chunker.add(item)] + list(chunker.flush())
    assert (len(items), failures, sum(map(len, chunks))) == (5_000, [], 5_000)
    assert usage.peak_mb < 1_000


# Fuzzing ---------------------------------------------------------------------------------------

text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=60)
hostile_text = st.text(st.characters(exclude_categories=[]), max_size=60)  # surrogates and controls too
element = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_.\-]{0,15}\Z")


@st.composite
def feeds(draw: st.DrawFn) -> bytes:
    """RSS or Atom documents with arbitrary text, odd element names, CDATA, and sometimes cut short."""
    atom = draw(st.booleans())
    parts = []
    for _ in range(draw(st.integers(0, 6))):
        title, guid, body = draw(hostile_text), draw(text), draw(hostile_text)
        name = draw(element)
        body_xml = f"<![CDATA[{body.replace(']]>', '')}]]>" if draw(st.booleans()) else escape(body)
        if atom:
            parts.append(
                f"<entry><title>{escape(title)}</title><id>{escape(guid)}</id><summary>{body_xml}</summary>"
                f"<{name}>{escape(draw(text))}</{name}></entry>"
            )
        else:
            parts.append(
                f"<item><title>{escape(title)}</title><guid>{escape(guid)}</guid><description>{body_xml}</description>"
                f"<{name}>{escape(draw(text))}</{name}></item>"
            )
    inner = "".join(parts)
    document = (
        f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>f</title>{inner}</feed>'
        if atom
        else rss(inner)
    )
    data = document.encode("utf-8", "surrogatepass")  # lone surrogates become invalid UTF-8
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return data


def assert_storable(item: JobItem) -> None:
    """What the importer will accept and MongoDB can store."""
    dumped = item.model_dump(mode="json")
    assert JOB_ITEMS.validate_python([json.loads(json.dumps(dumped))])[0] == item
    for name in ("title", "company", "location", "job_type", "category", "description", "content", "guid"):
        value = getattr(item, name)
        assert value is None or not _UNSAFE_CHARS.search(value), (name, value)
    assert all(re.fullmatch(f"[{EXTRA_KEY_CHARS}]+", key) for key in item.extra), item.extra


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=feeds())
def test_fuzzed_feeds_parse_to_storable_items_or_a_clear_error(body: bytes) -> None:
    for parser in PARSERS:
        try:
            _, items, failures = import_all(parser, body)
        except FeedParseError:
            continue
        for item in items:
            assert_storable(item)
        assert all(failure.reason for failure in failures)
        chunker = Chunker(max_items=10, max_bytes=256 * 1024, flush_ms=0)
        for item in items:
            with suppress(ItemTooLarge):
                list(chunker.add(item))


@settings(max_examples=300, deadline=None)
@given(
    entry=st.builds(
        entries.RawEntry,
        guid=hostile_text,
        link=hostile_text,
        id=hostile_text,
        title=hostile_text,
        description=hostile_text,
        company=hostile_text,
        categories=st.lists(hostile_text, max_size=3),
        extra=st.dictionaries(hostile_text, hostile_text, max_size=5),
    )
)
def test_fuzzed_entries_normalise_to_a_storable_item_or_a_failure(entry: entries.RawEntry) -> None:
    normalized = normalize([entry], FEED)
    assert len(normalized.items) + len(normalized.failures) == 1
    for item in normalized.items:
        assert_storable(item)
    for failure in normalized.failures:
        assert failure.reason and failure.key == "entry-0"
        json.dumps(failure.summary()).encode("utf-8")  # storable on the run record
