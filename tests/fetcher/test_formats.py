"""Each source format read from a fixture in the shape its publisher documents, field by field;
the detection rule; the per-feed mapping; unsupported documents with a reason naming them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from job_importer.contract import JobItem
from job_importer.settings import FeedConfig
from services.fetcher.entries import FeedParseError, ParsedFeed
from services.fetcher.formats import Document, read_document
from services.fetcher.formats.detect import api_format, detect
from services.fetcher.normalize import Normalized, normalize

FORMATS = Path(__file__).resolve().parent.parent / "fixtures" / "formats"
FIXTURES = FORMATS.parent


def body(name: str) -> bytes:
    return (FORMATS / name).read_bytes()


def no_more_pages(url: str) -> Document:
    raise AssertionError(f"no further page expected: {url}")


def read(
    data: bytes,
    *,
    url: str = "https://src.example/feed",
    content_type: str = "",
    pages: dict[str, bytes] | None = None,
    **feed: Any,
) -> ParsedFeed:
    def fetch_page(page_url: str) -> Document:
        if pages is None or page_url not in pages:
            return no_more_pages(page_url)
        return Document(pages[page_url], "application/json", page_url)

    config = FeedConfig(url=url, **feed)
    return read_document(Document(data, content_type, url), config, fast=True, fetch_page=fetch_page)


def items(parsed: ParsedFeed, url: str = "https://src.example/feed") -> Normalized:
    return normalize(parsed.entries, FeedConfig(url=url, source="src"))


def fields(item: JobItem) -> dict[str, Any]:
    """What an item holds, without the bookkeeping and the hash."""
    dumped = item.model_dump(exclude={"id", "source", "content_hash"})
    return {key: value for key, value in dumped.items() if value not in (None, {})}


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


# jobxml ---------------------------------------------------------------------------------


def test_indeed_style_xml() -> None:
    parsed = read(body("indeed.xml"), url="https://careers.acme.example/feeds/indeed.xml")
    assert parsed.format == "jobxml"
    normalized = items(parsed)
    first, second = normalized.items
    assert fields(first) == {
        "guid": "ACME-1001",
        "title": "Senior Data Engineer",
        "link": "https://careers.acme.example/jobs/1001?source=indeed",
        "company": "Acme Data",
        "job_type": "fulltime",
        "category": "Engineering",
        "description": "<p>Build <strong>pipelines</strong>.</p>",
        "published_at": at(2026, 11, 26, 14, 5, 9),
        "country": "US",
        "region": "TX",
        "city": "Austin",
        "postal_code": "78701",
        "remote": "remote",
        "salary": "$120,000 - $150,000 per year",
        "expires_at": at(2026, 12, 31, 23, 59, 59),
        "extra": {"education": "Bachelors", "email": "jobs@acme.example", "experience": "5+ years", "sourcename": "Acme Data"},
    }  # fmt: skip
    assert second.title == "Копирайтер"
    assert second.link == "https://careers.acme.example/jobs/1002"  # relative, resolved against the URL
    [failure] = normalized.failures
    assert failure.reason == "entry has no title" and failure.guid == "ACME-1003"


def test_ziprecruiter_organic_sample() -> None:
    [item] = items(read(body("ziprecruiter.xml"), content_type="application/xml")).items
    assert fields(item) == {
        "guid": "a-unique-job-id-123",
        "title": "Auto Tech.",
        "company": "Euro Car Care,Inc",
        "category": "Construction/Skilled Trade",
        "description": "Test",
        "published_at": at(2014, 7, 31, 7, 27, 14),
        "country": "US",
        "region": "CA",
        "city": "Santa Monica",
        "postal_code": "90755",
    }


def test_jooble_jobs_with_id_attributes_and_dotted_dates() -> None:
    first, second = items(read(body("jooble.xml"))).items
    assert (first.guid, first.title, first.link) == (
        "jb-501",
        "Warehouse Operative",
        "https://board.example/job/501",
    )
    assert (first.region, first.salary, first.job_type) == ("Manchester", "£11.50 per hour", "full-time")
    assert (first.published_at, first.expires_at) == (at(2026, 11, 20), at(2026, 12, 20))
    assert second.guid == "jb-502" and second.expires_at is None


def test_personio_positions() -> None:
    url = "https://acme.jobs.personio.de/xml?language=en"
    [item] = items(read(body("personio.xml"), url=url), url).items
    assert (item.guid, item.title, item.link) == (
        "1234567",
        "Backend Engineer (m/w/d)",
        "https://acme.jobs.personio.de/job/1234567",
    )
    assert (item.company, item.location, item.category, item.job_type) == (
        "Acme GmbH",
        "Berlin",
        "Engineering",
        "permanent",
    )
    assert (
        item.description
        == "<h3>Your tasks</h3><ul><li>Build APIs</li></ul>\n<h3>Your profile</h3><p>Python</p>"
    )
    assert item.published_at == at(2026, 11, 20, 8, 30)
    assert item.extra["seniority"] == "experienced"


def test_jobxml_header_charset_wins_over_the_declaration() -> None:
    data = '<?xml version="1.0" encoding="utf-8"?><jobs><job><id>1</id><title>Группа</title></job></jobs>'
    parsed = read(data.encode("cp1251"), content_type="text/xml; charset=windows-1251")
    assert parsed.entries[0].title == "Группа"


def test_malformed_jobxml_keeps_complete_jobs_with_a_warning() -> None:
    data = body("indeed.xml")
    cut = data[: data.index(b"<job>", data.index(b"ACME-1002"))]
    parsed = read(cut + b"<job><title>half")
    assert (
        parsed.warning and parsed.warning.startswith("malformed XML") and "jobs recovered" in parsed.warning
    )
    assert [entry.guid for entry in parsed.entries[:2]] == ["ACME-1001", "ACME-1002"]


def test_jobxml_never_expands_entities() -> None:
    doctype = (FIXTURES / "billion_laughs.xml").read_bytes().split(b"]>", 1)[0] + b"]>"
    bomb = (
        doctype
        + b"<jobs><job><id>1</id><title>Baker &lol9;</title></job><job><id>2</id><title>Cook</title></job></jobs>"
    )
    parsed = read(bomb, format="jobxml")
    assert parsed.entries[0].guid == "1"
    assert all(len(entry.title) < 100 for entry in parsed.entries)  # never a billion laughs


# JSON ------------------------------------------------------------------------------------


def test_json_feed_1_1() -> None:
    parsed = read(
        body("jsonfeed11.json"), url="https://jobs.example/feed.json", content_type="application/feed+json"
    )
    assert parsed.format == "jsonfeed11"
    normalized = items(parsed)
    first, second, third = normalized.items
    assert fields(first) == {
        "guid": "job-9001",
        "title": "Site Reliability Engineer",
        "link": "https://jobs.example/jobs/9001",
        "company": "Acme Cloud",
        "category": "DevOps",
        "description": "Keep it running.",
        "content": "<p>Keep it <em>running</em>.</p>",
        "image_url": "https://jobs.example/logo.png",
        "published_at": at(2026, 11, 26, 11),
    }
    assert (second.guid, second.company, second.content) == (
        "9002",
        "Acme Help",
        "Help people.",
    )  # 1.0 author
    assert third.guid == "https://jobs.example/jobs/9003"
    [failure] = normalized.failures
    assert failure.reason == "item is str, not an object"


def test_an_item_of_an_unexpected_shape_fails_alone() -> None:
    data = b'{"version": "https://jobsfeed.org/x", "jobs": [{"id": 1, "title": "A", "departments": 7}, {"id": 2, "title": "B"}]}'
    normalized = items(read(data, format="greenhouse"))
    assert [item.guid for item in normalized.items] == ["2"]
    [failure] = normalized.failures
    assert failure.reason.startswith("unreadable item (TypeError")


def test_greenhouse() -> None:
    first, second = items(read(body("greenhouse.json"), format="greenhouse")).items
    assert fields(first) == {
        "guid": "4012345",
        "title": "Product Designer",
        "link": "https://boards.greenhouse.io/acme/jobs/4012345",
        "company": "Acme",
        "location": "New York, NY",
        "category": "Design",
        "description": "<p>Design <strong>things</strong>.</p>",
        "published_at": at(2026, 11, 20, 14),
    }
    assert (second.location, second.category, second.published_at) == ("Remote", None, at(2026, 11, 23, 15))


def test_lever() -> None:
    first, second = items(read(body("lever.json"), format="lever")).items
    assert fields(first) == {
        "guid": "5f3a1b2c-0000-4000-8000-000000000001",
        "title": "Platform Engineer",
        "link": "https://jobs.lever.co/acme/5f3a1b2c-0000-4000-8000-000000000001",
        "apply_url": "https://jobs.lever.co/acme/5f3a1b2c-0000-4000-8000-000000000001/apply",
        "location": "San Francisco, CA",
        "job_type": "Full-time",
        "category": "Engineering",
        "description": "Build the platform.",
        "content": "<div>Build the platform.</div><h3>Requirements</h3><ul><li>Go</li><li>Kubernetes</li></ul><div>Benefits.</div>",
        "published_at": datetime.fromtimestamp(1795860000, UTC),
        "country": "US",
        "remote": "hybrid",
        "salary": "$150k-$190k",
        "salary_min": 150000.0,
        "salary_max": 190000.0,
        "salary_currency": "USD",
        "salary_period": "year",
    }
    assert (second.remote, second.job_type, second.salary_min) == ("remote", "Contract", None)


def test_ashby_skips_unlisted_jobs() -> None:
    [item] = items(read(body("ashby.json"), format="ashby")).items
    assert (item.title, item.job_type, item.remote, item.category) == (
        "Account Executive",
        "Full-time",
        "onsite",
        "Sales",
    )
    assert (item.city, item.region, item.country, item.postal_code) == ("Houston", "Texas", "USA", "77002")
    assert (item.salary, item.salary_min, item.salary_max, item.salary_currency, item.salary_period) == (
        "$81K - $87K", 81000.0, 87000.0, "USD", "year",
    )  # fmt: skip
    assert item.apply_url and item.apply_url.endswith("/application")


def test_smartrecruiters_reads_every_page() -> None:
    url = "https://api.smartrecruiters.com/v1/companies/AcmeRetail/postings?limit=2"
    parsed = read(
        body("smartrecruiters_page1.json"),
        url=url,
        pages={url + "&offset=2": body("smartrecruiters_page2.json")},
    )
    assert parsed.format == "smartrecruiters" and parsed.warning is None
    first, second, third = items(parsed).items
    assert (first.guid, first.title, first.link) == (
        "743999000000001", "Store Manager", "https://jobs.smartrecruiters.com/AcmeRetail/743999000000001",
    )  # fmt: skip
    assert (first.city, first.region, first.country, first.postal_code) == ("Munich", "BY", "DE", "80331")
    assert (first.company, first.job_type, first.category, first.remote) == (
        "Acme Retail",
        "Full-time",
        "Stores",
        None,
    )
    assert (second.remote, third.remote) == ("hybrid", "remote")


def test_recruitee() -> None:
    [item] = items(read(body("recruitee.json"), format="recruitee")).items
    assert (item.guid, item.title, item.company, item.remote) == (
        "987654",
        "Frontend Developer",
        "Acme BV",
        "hybrid",
    )
    assert (item.city, item.region, item.country, item.postal_code) == (
        "Amsterdam",
        "North Holland",
        "NL",
        "1011",
    )
    assert (item.salary_min, item.salary_max, item.salary_currency, item.salary_period) == (
        4000.0,
        5500.0,
        "EUR",
        "month",
    )
    assert (item.published_at, item.expires_at) == (at(2026, 11, 18, 10), at(2027, 1, 31, 23, 59))
    assert item.content == "<p>Build UIs.</p><p>React.</p>"


def test_workable() -> None:
    [item] = items(read(body("workable.json"), format="workable")).items
    assert (item.guid, item.title, item.company, item.remote) == (
        "A1B2C3D4E5",
        "Customer Success Manager",
        "Acme Ltd",
        "remote",
    )
    assert (item.city, item.region, item.country) == ("London", "England", "GB")
    assert item.apply_url == "https://apply.workable.com/j/A1B2C3D4E5/apply"


# Mapping -------------------------------------------------------------------------------


def test_json_mapping_with_pointers() -> None:
    data = b'{"data": {"results": [{"ref": "r-1", "role": {"name": "Chef"}, "where": [{"city": "Lyon"}], "pay": {"from": 30000, "cur": "eur"}}, {"ref": "r-2"}]}}'
    feed = {
        "format": "json",
        "items": "/data/results",
        "fields": {
            "guid": "/ref",
            "title": "/role/name",
            "city": "/where/0/city",
            "salary_min": "/pay/from",
            "salary_currency": "/pay/cur",
        },
    }
    normalized = items(read(data, **feed))
    [item] = normalized.items
    assert (item.guid, item.title, item.city, item.salary_min, item.salary_currency) == (
        "r-1",
        "Chef",
        "Lyon",
        30000.0,
        "EUR",
    )
    assert [failure.reason for failure in normalized.failures] == ["entry has no title"]


def test_xml_mapping_over_the_jobxml_defaults() -> None:
    data = b'<export><listing code="X1"><heading>Baker</heading><place town="Graz"/></listing></export>'
    feed = {
        "format": "xml",
        "items": "listing",
        "fields": {"guid": "@code", "title": "heading", "city": "place/@town"},
    }
    [item] = items(read(data.replace(b"</listing>", b"<oven>stone</oven></listing>"), **feed)).items
    assert (item.guid, item.title, item.city) == ("X1", "Baker", "Graz")
    assert item.extra == {"oven": "stone"}  # what the mapping read is not kept twice


def test_a_bad_mapping_is_a_clear_configuration_error() -> None:
    with pytest.raises(ValueError, match="fields"):
        FeedConfig(url="https://x.example", fields={"titel": "/name"})
    with pytest.raises(FeedParseError, match="needs the feed's fields"):
        read(b"[]", format="json")


# Detection and unsupported documents ---------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://boards-api.greenhouse.io/v1/boards/acme/jobs?content=true", "greenhouse"),
        ("https://api.lever.co/v0/postings/acme?mode=json", "lever"),
        ("https://api.ashbyhq.com/posting-api/job-board/acme?includeCompensation=true", "ashby"),
        ("https://api.smartrecruiters.com/v1/companies/acme/postings", "smartrecruiters"),
        ("https://acme.recruitee.com/api/offers/", "recruitee"),
        ("https://apply.workable.com/api/v1/widget/accounts/acme", "workable"),
        ("https://www.workable.com/api/accounts/acme?details=true", "workable"),
        ("https://acme.recruitee.com/o/some-job", None),
        ("https://jobicy.com/?feed=job_feed", None),
        ("http://[::1/feed", None),  # malformed: left to the download to name
    ],
)
def test_api_sources_are_recognised_by_host(url: str, expected: str | None) -> None:
    assert api_format(url) == expected


@pytest.mark.parametrize(
    ("name", "content_type", "expected"),
    [
        ("formats/indeed.xml", "text/xml", "jobxml"),
        ("formats/jooble.xml", "", "jobxml"),
        ("formats/personio.xml", "application/xml", "jobxml"),
        ("formats/jsonfeed11.json", "application/feed+json", "jsonfeed"),
        ("formats/jsonfeed11.json", "text/plain", "jsonfeed"),  # by its first bytes
        ("jobicy_two_items.xml", "application/rss+xml", "rss"),
        ("stackoverflow_jobs.xml", "", "rss"),
    ],
)
def test_detection_by_content_type_first_bytes_and_root(name: str, content_type: str, expected: str) -> None:
    document = Document((FIXTURES / name).read_bytes(), content_type, "https://x.example/feed")
    assert detect(document, "https://x.example/feed") == expected


def test_a_host_wins_over_the_content() -> None:
    document = Document(body("lever.json"), "application/json", "https://api.lever.co/v0/postings/acme")
    assert detect(document, "https://api.lever.co/v0/postings/acme?mode=json") == "lever"


@pytest.mark.parametrize(
    ("data", "content_type", "reason"),
    [
        (
            b'<?xml version="1.0"?><catalog><book/></catalog>',
            "application/xml",
            "root element <catalog>, content type application/xml",
        ),
        (
            b'{"results": [], "count": 0}',
            "application/json",
            "unsupported JSON document (keys: count, results",
        ),
        (b"[1, 2", "application/json", "unreadable JSON"),
        (b"name,title\nx,y\n", "text/csv", "content type text/csv"),
    ],
)
def test_unsupported_documents_get_a_reason_naming_them(data: bytes, content_type: str, reason: str) -> None:
    with pytest.raises(FeedParseError, match=None) as caught:
        read(data, content_type=content_type)
    assert reason in str(caught.value)


def test_the_first_byte_wins_over_a_wrong_content_type() -> None:
    rss = Document(
        (FIXTURES / "jobicy_two_items.xml").read_bytes(), "application/json", "https://x.example/f"
    )
    assert detect(rss, rss.url) == "rss"
    feed = Document(body("jsonfeed11.json"), "text/xml", "https://x.example/f")
    assert detect(feed, feed.url) == "jsonfeed"


def test_every_feed_of_feedparsers_corpus_is_still_read_as_rss() -> None:
    corpus = sorted((FIXTURES.parents[1] / ".tools" / "feedparser-corpus" / "tests").rglob("*.xml"))
    assert len(corpus) > 2000, "feedparser's corpus is missing: run ./scripts/feedparser-corpus.sh"
    misread = [
        path.name
        for path in corpus
        if detect(Document(path.read_bytes(), "", "https://c.example/f"), "") != "rss"
    ]
    assert misread == []
