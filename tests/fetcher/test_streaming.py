"""Choosing and reading a spooled document as a stream: the same entries as read whole."""

from __future__ import annotations

import pytest

from devstack.samplefeeds import atom_feed, jobicy_feed, jobxml_feed, json_feed, sample_jobs
from job_importer.settings import FeedConfig
from services.fetcher.formats import Document, read_document
from services.fetcher.spool import ItemSpool, Spool
from services.fetcher.streaming import NotStreamed, open_stream

URL = "https://board.example/feed.xml"
FEED = FeedConfig(url=URL, source="board")


def spooled(body: bytes, piece: int = 1000) -> Spool:
    spool = Spool()
    for start in range(0, len(body), piece):
        spool.write(body[start : start + piece])
    return spool


def whole(body: bytes, feed: FeedConfig = FEED) -> list:
    def no_pages(url: str) -> Document:
        raise AssertionError(url)

    return read_document(Document(body, "application/xml", URL), feed, fast=True, fetch_page=no_pages).entries


@pytest.mark.parametrize("make", [jobicy_feed, atom_feed, jobxml_feed])
def test_a_stream_yields_what_the_whole_document_path_reads(make: object) -> None:
    body = make(sample_jobs(120, seed=3))  # type: ignore[operator]
    stream = open_stream(spooled(body), "application/xml", URL, FEED, fast=True)
    assert stream is not None
    assert list(stream) == whole(body)


def test_the_counted_facts_straddle_pieces() -> None:
    body = b'<rss xmlns:a="x" xmlns:b="y"><!ENTITY' + "é".encode()
    for piece in range(1, 9):
        spool = spooled(body, piece)
        assert (spool.xmlns, spool.declares_entities, spool.ascii, spool.size) == (2, True, False, len(body))
        assert spool.read_all() == body and spool.head == body


def test_documents_not_for_streaming_are_left_to_the_whole_path() -> None:
    utf16 = json_feed(sample_jobs(3)).decode().encode("utf-16")
    assert open_stream(spooled(utf16), "application/feed+json", URL, FEED, fast=True) is None
    pages = FeedConfig(url="https://api.smartrecruiters.com/v1/companies/acme/postings", source="sr")
    assert open_stream(spooled(b'{"content": []}'), "application/json", URL, pages, fast=True) is None
    rss = jobicy_feed(sample_jobs(3))
    assert open_stream(spooled(rss), "", URL, FEED, fast=False) is None  # feedparser only
    mapped = FeedConfig(url=URL, source="board", format="jobxml", items="source/job")
    assert open_stream(spooled(jobxml_feed(sample_jobs(3))), "", URL, mapped, fast=True) is None
    entity = b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "b">]><rss version="2.0"/>'
    assert open_stream(spooled(entity), "", URL, FEED, fast=True) is None


def test_malformed_job_xml_steps_aside_after_its_complete_jobs() -> None:
    body = jobxml_feed(sample_jobs(30))
    cut = body[: body.index(b"<job>", len(body) // 2) + 30]
    stream = open_stream(spooled(cut), "", URL, FEED, fast=True)
    assert stream is not None
    got = []
    with pytest.raises(NotStreamed) as raised:
        for entry in stream:
            got.append(entry)
    assert raised.value.malformed
    assert got == whole(body)[: cut.count(b"</job>")] and 0 < len(got) < 30


def test_rss_the_fast_path_steps_aside_for_is_not_malformed() -> None:
    body = jobicy_feed(sample_jobs(5)).replace(b"<item>", b"<item><itunes:summary>x</itunes:summary>", 1)
    body = body.replace(b"<rss ", b'<rss xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" ', 1)
    stream = open_stream(spooled(body), "", URL, FEED, fast=True)
    assert stream is not None
    with pytest.raises(NotStreamed) as raised:
        list(stream)
    assert not raised.value.malformed


def test_an_item_spool_gives_its_items_back_in_order_as_often_as_asked() -> None:
    spool = ItemSpool()
    for number in range(5000):
        spool.add({"n": number, "text": "x" * (number % 300)})
    assert [item["n"] for item in spool] == list(range(5000))
    assert sum(1 for _ in spool) == 5000
    spool.close()
