"""Parsing real feed bytes into RawEntry values (feedparser path)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from devstack.samplefeeds import atom_feed, sample_jobs
from services.fetcher.entries import FeedParseError
from services.fetcher.parse import parse_feed, parse_with_feedparser

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_jobicy_fields_are_mapped() -> None:
    first, second = parse_with_feedparser(fixture("jobicy_two_items.xml")).entries
    assert first.guid == "https://jobicy.com/?post_type=job_listing&p=118822"
    assert first.link == "https://jobicy.com/jobs/118822-senior-data-engineer"
    assert (first.company, first.location, first.job_type) == ("Acme Data", "USA", "Full-Time")
    assert first.image_url == "https://jobicy.com/data/logo.png"
    assert first.categories == ["Data Science"]
    assert first.description == "<p>Build <strong>pipelines</strong>.</p>"
    assert first.content == "<p>Build <strong>pipelines</strong>. Full text.</p>"
    assert first.published == datetime(2026, 11, 26, 14, 5, 9, tzinfo=UTC)
    assert first.extra == {"job_listing_salary": "$120k"}
    assert second.company == "Words Inc"


def test_guid_wins_over_numeric_id_whatever_the_element_order() -> None:
    first, second = parse_with_feedparser(fixture("jobicy_two_items.xml")).entries
    assert first.guid.endswith("p=118822")  # <id> came before <guid>
    assert second.guid == "copy-77"  # <id> came after <guid>; feedparser's entry.id would say "77"
    assert second.id == "77"


def test_atom_entries_use_their_id() -> None:
    jobs = sample_jobs(3, seed=5)
    entries = parse_with_feedparser(atom_feed(jobs)).entries
    assert [entry.id for entry in entries] == [f"tag:atomjobs.example,2026:job-{job.number}" for job in jobs]
    assert entries[0].guid == ""
    assert entries[0].title == jobs[0].title
    assert entries[0].categories == [jobs[0].category]


def test_html_page_is_a_clear_error() -> None:
    with pytest.raises(FeedParseError, match="HTML page"):
        parse_with_feedparser(fixture("not_a_feed.html"))


def test_empty_body_is_a_clear_error() -> None:
    with pytest.raises(FeedParseError, match="empty"):
        parse_with_feedparser(b"")


def test_empty_feed_has_no_entries() -> None:
    parsed = parse_with_feedparser(
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
    )
    assert parsed.entries == []
    assert parsed.format == "rss20"


def test_truncated_feed_recovers_complete_items_with_a_warning() -> None:
    body = fixture("jobicy_two_items.xml")
    cut = body[: body.index(b"<title>Copywriter")]
    parsed = parse_with_feedparser(cut)
    assert parsed.warning and "malformed" in parsed.warning
    assert parsed.entries[0].title == "Senior Data Engineer"


def test_external_entities_are_never_resolved() -> None:
    parsed = parse_with_feedparser(fixture("xxe.xml"))
    text = " ".join(entry.title + entry.description for entry in parsed.entries)
    assert "root:" not in text  # /etc/passwd's first line starts with root:
    assert Path("/etc/passwd").read_text().splitlines()[0] not in text


def test_entity_expansion_bomb_is_refused() -> None:
    with pytest.raises(FeedParseError, match="internal XML entities would expand"):
        parse_with_feedparser(fixture("billion_laughs.xml"))


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "feedparser"])
def test_stack_overflow_jobs_company_and_location(fast: bool) -> None:
    [entry] = parse_feed(fixture("stackoverflow_jobs.xml"), fast=fast).entries
    assert (entry.company, entry.location) == ("Acme GmbH", "Berlin, Germany")  # a10:author, <location>


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "feedparser"])
def test_we_work_remotely_region_is_the_location(fast: bool) -> None:
    [entry] = parse_feed(fixture("weworkremotely.xml"), fast=fast).entries
    assert entry.location == "Anywhere in the World"
    assert entry.extra["region"] == "Anywhere in the World"  # kept there too: stored hashes hold


def test_we_work_remotely_names_the_company_in_the_title_only() -> None:
    from job_importer.settings import FeedConfig
    from services.fetcher.jobfields import company_from_title
    from services.fetcher.normalize import normalize

    [item] = normalize(
        parse_feed(fixture("weworkremotely.xml")).entries,
        FeedConfig(url="https://weworkremotely.com/remote-jobs.rss"),
    ).items
    assert (item.company, item.title) == ("Acme", "Acme: Senior Rails Developer")
    wwr = "https://weworkremotely.com/remote-jobs/x"
    assert company_from_title("Update: new roles", "https://example.org/jobs/1") is None  # other boards
    assert company_from_title("No colon here", wwr) is None
    assert company_from_title("Acme:", wwr) is None
    assert company_from_title("Acme Inc: Lead: Data", "https://www.weworkremotely.com/a") == "Acme Inc"


def test_job_listing_fields_win_over_author_and_location() -> None:
    first, _ = parse_feed(fixture("jobicy_two_items.xml")).entries
    assert (first.company, first.location) == ("Acme Data", "USA")
