"""The fast parse path reads every feed it accepts exactly as feedparser does.

On feedparser's own test corpus (fetched by scripts/feedparser-corpus.sh, which setup runs),
on our fixtures and demo feeds, and on generated Jobicy-shaped, plain RSS and Atom feeds: for
every document the fast path accepts, its entries (and hence the normalised items, failures and
duplicate counts) equal feedparser's, field by field.
"""

from __future__ import annotations

import warnings
from dataclasses import fields, replace
from pathlib import Path

import pytest

from devstack.samplefeeds import atom_feed, edited, jobicy_feed, plain_rss_feed, sample_jobs
from job_importer.settings import FeedConfig
from services.fetcher.entries import FeedParseError, ParsedFeed
from services.fetcher.fastparse import parse_fast
from services.fetcher.mediatype import xml_charset
from services.fetcher.normalize import normalize
from services.fetcher.parse import parse_with_feedparser

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / ".tools" / "feedparser-corpus" / "tests"
FEED = FeedConfig(url="https://feeds.example/jobs", source="feeds.example", category="Jobs")


def differences(expected: ParsedFeed, actual: ParsedFeed) -> list[str]:
    """What differs, field by field, for a readable failure."""
    found = []
    if (expected.format, expected.warning, len(expected.entries)) != (
        actual.format,
        actual.warning,
        len(actual.entries),
    ):
        found.append(
            f"feed: {expected.format}/{expected.warning}/{len(expected.entries)} entries, "
            f"fast path: {actual.format}/{actual.warning}/{len(actual.entries)}"
        )
    for position, (want, got) in enumerate(zip(expected.entries, actual.entries, strict=False)):
        for field in fields(want):
            if getattr(want, field.name) != getattr(got, field.name):
                found.append(
                    f"entry {position} {field.name}: {getattr(want, field.name)!r} != {getattr(got, field.name)!r}"
                )
    return found


#: What a response may tell both paths: nothing (bytes alone), a final URL, a header charset.
RESPONSES = {
    "bytes": {},
    "base-url": {"base_url": "http://corpus.example/dir/feed.xml"},
    "utf-8-header": {"content_type": "application/rss+xml; charset=utf-8", "base_url": "https://c.example/"},
}


def check(body: bytes, content_type: str = "", base_url: str = "") -> bool:
    """Compare the two paths on one document; True when the fast path accepted it."""
    try:
        fast = parse_fast(body, charset=xml_charset(body, content_type), base_url=base_url)
    except FeedParseError as refused:  # then feedparser's path refuses it too, for the same reason
        with pytest.raises(FeedParseError) as also:
            parse_with_feedparser(body, content_type=content_type, base_url=base_url)
        assert str(also.value) == str(refused)
        return False
    if fast is None:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # feedparser's own, about `updated`
        slow = parse_with_feedparser(body, content_type=content_type, base_url=base_url)
    assert differences(slow, fast) == []
    assert normalize(fast.entries, FEED) == normalize(slow.entries, FEED)
    return True


@pytest.mark.parametrize("response", RESPONSES.values(), ids=RESPONSES.keys())
def test_feedparser_corpus(response: dict[str, str]) -> None:
    files = sorted(CORPUS.rglob("*.xml"))
    assert len(files) > 2000, f"feedparser's corpus is missing: run ./scripts/feedparser-corpus.sh ({CORPUS})"
    accepted, with_entries, mismatched = 0, 0, {}
    for path in files:
        body = path.read_bytes()
        try:
            if check(body, **response):
                accepted += 1
                with_entries += bool(parse_with_feedparser(body).entries)
        except AssertionError as exc:
            mismatched[str(path.relative_to(CORPUS))] = str(exc)[:500]
    assert mismatched == {}
    # The accepted share is what makes the proof (and the fast path) worth having: see
    # docs/performance.md for the numbers and why the rest falls back.
    assert accepted >= 750 and with_entries >= 550, (accepted, with_entries)


@pytest.mark.parametrize(
    "path",
    sorted((ROOT / "tests" / "fixtures").glob("*.xml")) + sorted((ROOT / "devstack" / "demo").glob("*.xml")),
    ids=lambda path: path.name,
)
def test_fixtures_and_demo_feeds(path: Path) -> None:
    accepted = check(path.read_bytes())
    # The demo feeds and the Jobicy fixture are plain RSS 2.0/Atom: the fast path must take them.
    # The XXE and billion-laughs fixtures carry a DOCTYPE: it must refuse them; Stack Overflow
    # declares a namespace on an item's <location>, which it leaves to feedparser.
    assert accepted == (path.name not in {"xxe.xml", "billion_laughs.xml", "stackoverflow_jobs.xml"})


def test_generated_feeds_with_changed_and_broken_items() -> None:
    jobs = sample_jobs(300, seed=3, description_bytes=900)
    jobs[5] = edited(jobs[5])
    jobs[9] = replace(jobs[9], guid="", link="")  # no identity
    jobs[11] = replace(jobs[11], title="")  # no title
    jobs[13] = replace(jobs[13], number=jobs[14].number)  # the same identity twice: a duplicate
    for body in (jobicy_feed(jobs), plain_rss_feed(jobs), atom_feed(jobs)):
        assert check(body)
