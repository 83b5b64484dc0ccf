"""JSON sources streamed an item at a time read exactly what the whole-document path reads.

Both paths run on the same fixtures (each publisher's documented shape) and on generated
documents; the incremental reader builds what ``json.loads`` builds (property test, both ijson
backends); what it can't read that way steps aside to the whole-document path, and malformed
JSON keeps its complete items only for a download that broke off.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devstack.samplefeeds import greenhouse_json, json_feed, lever_json, sample_jobs
from job_importer.settings import FeedConfig, Settings
from services.fetcher.download import Downloaded, Validators
from services.fetcher.entries import FeedParseError
from services.fetcher.formats import Document, read_document
from services.fetcher.jsonstream import EXACT, FAST, JsonItems, StepAside
from services.fetcher.normalize import normalize
from services.fetcher.pipeline import FetcherContext, _read
from services.fetcher.spool import Spool
from services.fetcher.streaming import NotStreamed, Streamed, open_stream

FORMATS = Path(__file__).resolve().parent.parent / "fixtures" / "formats"
URL = "https://src.example/feed"
MAPPED = {
    "format": "json",
    "items": "/data/results",
    "fields": {"guid": "/ref", "title": "/role/name", "link": "/url", "city": "/where/0/city"},
}
#: fixture -> (the feed's settings, Content-Type)
FIXTURES: dict[str, tuple[dict[str, Any], str]] = {
    "jsonfeed11.json": ({}, "application/feed+json"),  # detected from the first bytes
    "greenhouse.json": ({"format": "greenhouse"}, "application/json"),
    "lever.json": ({"format": "lever"}, "application/json"),
    "ashby.json": ({"format": "ashby"}, "application/json"),
    "recruitee.json": ({"format": "recruitee"}, "application/json"),
    "workable.json": ({"format": "workable"}, "application/json"),
    "mapped.json": (MAPPED, "application/json"),
}


def spooled(body: bytes, piece: int = 1000) -> Spool:
    spool = Spool()
    for start in range(0, len(body), piece):
        spool.write(body[start : start + piece])
    return spool


def no_pages(url: str) -> Document:
    raise AssertionError(url)


def both_paths(body: bytes, feed: FeedConfig, content_type: str, piece: int = 1000) -> tuple[Any, Streamed]:
    whole = read_document(Document(body, content_type, URL), feed, fast=True, fetch_page=no_pages)
    stream = open_stream(spooled(body, piece), content_type, URL, feed, fast=True)
    assert stream is not None, "not streamed"
    return whole, stream


def assert_same(body: bytes, feed: FeedConfig, content_type: str, piece: int = 1000) -> int:
    whole, stream = both_paths(body, feed, content_type, piece)
    entries = list(stream)
    assert entries == whole.entries
    assert (stream.reader, stream.format) == (whole.reader, whole.format)
    streamed, read_whole = normalize(entries, feed), normalize(whole.entries, feed)
    assert streamed.items == read_whole.items and streamed.failures == read_whole.failures
    return len(entries)


@pytest.mark.parametrize("name", sorted(FIXTURES))
@pytest.mark.parametrize("piece", [1, 7, 4096])
def test_each_fixture_streams_to_the_entries_and_items_read_whole(name: str, piece: int) -> None:
    config, content_type = FIXTURES[name]
    feed = FeedConfig(url=URL, source="src", **config)
    assert assert_same((FORMATS / name).read_bytes(), feed, content_type, piece) > 0


@pytest.mark.parametrize(
    ("make", "config"),
    [
        (json_feed, {"format": "jsonfeed"}),
        (lever_json, {"format": "lever"}),
        (greenhouse_json, {"format": "greenhouse"}),
        (greenhouse_json, {"url": "https://boards-api.greenhouse.io/v1/boards/acme/jobs?content=true"}),
    ],
)
def test_generated_documents_stream_to_the_same_entries(make: Any, config: dict[str, Any]) -> None:
    jobs = sample_jobs(300, seed=4, text="real")
    jobs[10] = type(jobs[10])(**{**jobs[10].__dict__, "guid": "", "link": ""})  # a failed item
    feed = FeedConfig(**{"url": URL, "source": "gen", **config})
    assert assert_same(make(jobs), feed, "application/json") == 300


def test_a_lone_surrogate_escape_is_read_as_json_loads_reads_it() -> None:
    body = b'{"jobs": [{"id": 1, "title": "Chef \\ud800 \\uD83D\\uDE00", "absolute_url": "https://a.example/1"}]}'
    feed = FeedConfig(url=URL, source="src", format="greenhouse")
    assert assert_same(body, feed, "application/json") == 1
    [entry] = list(open_stream(spooled(body, 3), "", URL, feed, fast=True) or [])
    assert entry.title == "Chef \ud800 \U0001f600"


def test_a_utf8_bom_is_skipped_as_json_loads_skips_it() -> None:
    body = b"\xef\xbb\xbf" + (FORMATS / "lever.json").read_bytes()
    assert assert_same(body, FeedConfig(url=URL, source="src", format="lever"), "application/json") == 2


# What json.loads builds -----------------------------------------------------------------

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=1 - 2**63, max_value=2**63 - 1)  # yajl holds no -2**63
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(
        alphabet=st.characters(codec="utf-8") | st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
    )
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(before=VALUES, items=st.lists(VALUES, max_size=5), after=VALUES, ascii=st.booleans())
def test_the_reader_builds_what_json_loads_builds(
    before: Any, items: list[Any], after: Any, ascii: bool
) -> None:
    document = {"before": before, "data": {"x": after, "jobs": items}, "name": after}
    body = json.dumps(document, ensure_ascii=ascii).encode("utf-8", "surrogatepass")
    expected = json.loads(body)
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:  # raw UTF-8 surrogates: json.loads lets them pass, the stream steps aside
        with pytest.raises(StepAside) as raised:
            list(JsonItems(io.BytesIO(body), "/data/jobs", members=frozenset({"name"})))
        assert not raised.value.malformed
        return
    spool = spooled(body)
    reader = JsonItems(
        spool.reader(), "/data/jobs", members=frozenset({"name"}), exact_strings=spool.escapes_surrogates
    )
    assert _same(list(reader), expected["data"]["jobs"]) and _same(reader.top, {"name": expected["name"]})
    exact = JsonItems(io.BytesIO(body), "/data/jobs", exact_strings=True)
    assert _same(list(exact), expected["data"]["jobs"])


def _same(got: Any, expected: Any) -> bool:
    """Equal, and of the same types (1 == 1.0 == True would hide a Decimal or a float)."""
    if type(got) is not type(expected):
        return False
    if isinstance(got, dict):
        return got.keys() == expected.keys() and all(_same(got[key], expected[key]) for key in got)
    if isinstance(got, list):
        return len(got) == len(expected) and all(map(_same, got, expected))
    return bool(got == expected)


def test_both_backends_are_there() -> None:
    assert EXACT.backend_name == "python"
    assert FAST.backend_name == "yajl2_c"  # the wheel's C extension


# Stepping aside ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "pointer", "why"),
    [
        (b'{"jobs": [{"id": 1}], "jobs": []}', "/jobs", "'jobs' twice"),
        (b'{"data": [{"jobs": [{"id": 1}]}]}', "/data/jobs", "steps through a list"),
        (b'{"jobs": {"item": {"id": 1}}}', "/jobs", "no list of items at '/jobs'"),
        (b'[{"id": 1}]', "/jobs", "not an object"),
        (b'{"jobs": [{"id": 12345678901234567890123}]}', "/jobs", "a number beyond"),
        (b'{"jobs": [{"id": 1e400}]}', "/jobs", "a number beyond"),
        (b'{"jobs": [{"id": "\xed\xa0\x80"}]}', "/jobs", "decodes otherwise"),
    ],
)
def test_what_json_loads_reads_otherwise_steps_aside(body: bytes, pointer: str, why: str) -> None:
    with pytest.raises(StepAside) as raised:
        list(JsonItems(io.BytesIO(body), pointer))
    assert why in str(raised.value) and not raised.value.malformed
    try:  # the pure-Python backend reads some of these (big numbers) as json.loads does
        assert list(JsonItems(io.BytesIO(body), pointer, exact_strings=True)) == json.loads(body)["jobs"]
    except StepAside as exc:
        assert not exc.malformed


def test_workable_whose_name_comes_after_the_jobs_is_read_whole() -> None:
    data = json.loads((FORMATS / "workable.json").read_bytes())
    body = json.dumps({"jobs": data["jobs"], "name": data["name"]}).encode()
    whole, stream = both_paths(body, FeedConfig(url=URL, source="w", format="workable"), "application/json")
    with pytest.raises(NotStreamed, match="'name' comes after the items"):
        list(stream)
    assert whole.entries[0].company == data["name"]


def test_a_json_mapping_without_fields_is_a_configuration_error_either_way() -> None:
    feed = FeedConfig(url=URL, source="m", format="json", items="/data/results")
    with pytest.raises(FeedParseError, match='format "json" needs the feed\'s fields'):
        open_stream(spooled(b'{"data": {"results": []}}'), "", URL, feed, fast=True)


# Malformed JSON ---------------------------------------------------------------------------


def test_json_cut_mid_document_steps_aside_after_its_complete_items() -> None:
    body = greenhouse_json(sample_jobs(40, seed=2))
    cut = body[: body.index(b'"absolute_url"', len(body) // 2) + 20]
    feed = FeedConfig(url=URL, source="g", format="greenhouse")
    whole = read_document(Document(body, "application/json", URL), feed, fast=True, fetch_page=no_pages)
    got = []
    with pytest.raises(NotStreamed) as raised:
        for entry in open_stream(spooled(cut), "application/json", URL, feed, fast=True) or []:
            got.append(entry)
    assert raised.value.malformed and "premature EOF" in str(raised.value)
    complete = cut.count(b'"absolute_url"') - 1
    assert got == whole.entries[:complete] and 0 < complete < 40


def context(**overrides: Any) -> FetcherContext:
    """Only the settings: _read reaches nothing else for a document of one page."""
    settings = Settings(feeds=[], **overrides)
    return FetcherContext(settings, None, None, None, None, None)  # type: ignore[arg-type]


def downloaded(body: bytes, *, broken_off: str | None = None) -> Downloaded:
    return Downloaded(200, b"", Validators(), URL, "application/json", spooled(body), broken_off)


def bad_json() -> bytes:
    body = greenhouse_json(sample_jobs(40, seed=2))
    at = body.index(b'"absolute_url"', len(body) // 2)
    return body[:at] + b"oops, " + body[at:]


def test_malformed_json_in_a_download_that_broke_off_keeps_the_items_before_the_error() -> None:
    body = bad_json()
    read = _read(
        context(), FeedConfig(url=URL, source="g", format="greenhouse"), downloaded(body, broken_off="x")
    )
    assert read is not None and read.partial
    complete = body[: body.index(b"oops")].count(b'"absolute_url"')
    assert read.fetched == complete and len(list(read.items)) == complete and 0 < complete < 40
    read.close()


def test_malformed_json_in_a_whole_download_is_a_clear_error_naming_the_problem() -> None:
    feed = FeedConfig(url=URL, source="g", format="greenhouse")
    body = bad_json()
    with pytest.raises(FeedParseError, match=r"not well-formed JSON \(Expecting .*line 1 column"):
        _read(context(), feed, downloaded(body))  # read whole: json.loads's own words
    too_large = context(fetch_max_whole_bytes=len(body) // 2)
    with pytest.raises(FeedParseError) as raised:
        _read(too_large, feed, downloaded(body))  # no second read: the stream's words
    assert str(raised.value).startswith(
        "not well-formed JSON (lexical error: invalid char in json text, after "
    )
    assert "content type application/json" in str(raised.value) and "FETCH_MAX_WHOLE_BYTES" not in str(
        raised.value
    )


def test_a_document_larger_than_the_whole_cap_streams() -> None:
    body = greenhouse_json(sample_jobs(200, seed=8))
    feed = FeedConfig(url=URL, source="g", format="greenhouse")
    read = _read(context(fetch_max_whole_bytes=len(body) // 10), feed, downloaded(body))
    assert read is not None and not read.partial and read.spool is not None  # streamed
    assert read.fetched == 200 and len(list(read.items)) == 200 and read.format == "greenhouse"
    read.close()
