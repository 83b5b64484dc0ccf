"""The streamed fast path reads every document exactly as the whole-document fast path does.

On feedparser's corpus and generated Jobicy-shaped, plain RSS and Atom feeds: where
:func:`parse_fast` accepts a document, :class:`FastStream` yields the same entries (or steps
aside, never differing); where :func:`parse_fast` steps aside, so does the stream (it would
otherwise read a document feedparser might read differently).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from devstack.samplefeeds import atom_feed, jobicy_feed, plain_rss_feed, sample_jobs
from services.fetcher.entries import FeedParseError
from services.fetcher.fastparse import FastStream, Malformed, Unsure, parse_fast
from services.fetcher.mediatype import xml_charset
from services.fetcher.spool import Spool

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / ".tools" / "feedparser-corpus" / "tests"
RESPONSES = [
    ("", ""),
    ("", "http://corpus.example/dir/feed.xml"),
    ("application/rss+xml; charset=utf-8", "https://c.example/"),
]


def spooled(body: bytes, piece: int = 777) -> Spool:
    spool = Spool()
    for start in range(0, len(body), piece):
        spool.write(body[start : start + piece])
    return spool


def streamed(body: bytes, content_type: str = "", base_url: str = "") -> tuple[str, list] | None:
    spool = spooled(body)
    stream = FastStream(
        spool.reader(),
        head=spool.head,
        ascii_body=spool.ascii,
        xmlns=spool.xmlns,
        charset=xml_charset(body, content_type),
        base_url=base_url,
    )
    try:
        entries = list(stream)
    except Unsure:
        return None
    return stream.format, entries


def compare(body: bytes, content_type: str = "", base_url: str = "") -> str:
    try:
        whole = parse_fast(body, charset=xml_charset(body, content_type), base_url=base_url)
    except FeedParseError:
        return "refused"
    got = streamed(body, content_type, base_url)
    if whole is None:
        assert got is None, "the stream read a document the fast path leaves to feedparser"
        return "unsure"
    if got is None:
        return "stepped aside"
    assert got == (whole.format, whole.entries)
    return "equal"


def corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*") if p.suffix in (".xml", ".rdf", ".atom", ".rss"))


def test_corpus_is_there() -> None:
    assert len(corpus_files()) > 1000


def test_stream_equals_whole_document_on_the_corpus() -> None:
    outcomes: dict[str, int] = {}
    for path in corpus_files():
        body = path.read_bytes()
        for content_type, base_url in RESPONSES:
            outcome = compare(body, content_type, base_url)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert outcomes.get("equal", 0) > 300, outcomes
    # Stepping aside costs speed, never results; it must stay rare among accepted documents.
    assert outcomes.get("stepped aside", 0) <= outcomes["equal"] // 10, outcomes


@pytest.mark.parametrize("make", [jobicy_feed, plain_rss_feed, atom_feed])
def test_stream_equals_whole_document_on_sample_feeds(make: object) -> None:
    body = make(sample_jobs(300))  # type: ignore[operator]
    assert compare(body, "application/rss+xml; charset=utf-8", "https://feeds.example/jobs") == "equal"
    assert compare(body) == "equal"


def test_read_items_are_freed() -> None:
    """Memory does not follow the document: the tree holds no read item."""
    body = jobicy_feed(sample_jobs(50))
    spool = spooled(body)
    stream = FastStream(spool.reader(), head=spool.head, ascii_body=spool.ascii, xmlns=spool.xmlns)
    sizes = []
    iterator = iter(stream)
    for _ in iterator:
        frame = iterator.gi_frame  # type: ignore[attr-defined]
        element = frame.f_locals["element"]
        sizes.append(sum(1 for _ in element.itersiblings(preceding=True)))
    assert len(sizes) == 50 and max(sizes) <= 1, sizes  # at most the previous one, already cleared


def test_truncated_document_yields_its_complete_items_then_malformed() -> None:
    body = jobicy_feed(sample_jobs(20))
    cut = body[: body.index(b"<item>", len(body) // 2) + 40]
    spool = spooled(cut)
    stream = FastStream(spool.reader(), head=spool.head, ascii_body=spool.ascii, xmlns=spool.xmlns)
    got = []
    with pytest.raises(Malformed):
        for entry in stream:
            got.append(entry)
    whole = parse_fast(body)
    assert whole is not None
    assert 0 < len(got) < 20 and got == whole.entries[: len(got)]
    assert io.BytesIO  # keep the import honest for readers: the stream reads any file object
