"""Normalising entries into validated items (pure functions, no services)."""

from __future__ import annotations

from datetime import UTC, datetime

from job_importer.contract import MAX_TEXT_CHARS, JobItem, content_hash
from job_importer.failed_items import ItemFailure
from job_importer.settings import FeedConfig
from services.fetcher.entries import RawEntry
from services.fetcher.normalize import clean, normalize, normalize_entry, safe_key

FEED = FeedConfig(url="https://jobs.example/feed", source="jobs.example", category="Engineering")


def entry(**fields: object) -> RawEntry:
    return RawEntry(**{"title": "Engineer", "guid": "g-1", **fields})  # type: ignore[arg-type]


def test_identity_is_guid_then_link_then_id() -> None:
    assert isinstance(item := normalize_entry(entry(guid="g", link="l", id="i"), FEED, 0), JobItem)
    assert item.guid == "g"
    assert isinstance(item := normalize_entry(entry(guid="", link="l", id="i"), FEED, 0), JobItem)
    assert item.guid == "l"
    assert isinstance(item := normalize_entry(entry(guid="", link="", id="i"), FEED, 0), JobItem)
    assert item.guid == "i"
    assert item.id == "jobs.example#i"


def test_entry_without_identity_is_a_failure_with_a_reason() -> None:
    failure = normalize_entry(entry(guid="", link="", id="", title="Orphan"), FEED, 4)
    assert isinstance(failure, ItemFailure)
    assert failure.reason == "entry has no guid, link or id to identify it"
    assert failure.key == "entry-4"
    assert "Orphan" in failure.raw


def test_entry_without_title_fails() -> None:
    failure = normalize_entry(entry(title="  "), FEED, 0)
    assert isinstance(failure, ItemFailure) and failure.reason == "entry has no title"


def test_overlong_field_fails_naming_the_field() -> None:
    failure = normalize_entry(entry(description="x" * (MAX_TEXT_CHARS + 1)), FEED, 0)
    assert isinstance(failure, ItemFailure)
    assert "description" in failure.reason and str(MAX_TEXT_CHARS) in failure.reason.replace(",", "")


def test_control_characters_and_surrogates_are_removed() -> None:
    assert clean("a\x00b\x1fc\u0085d\ud800e\tf\n") == "abcde\tf"
    item = normalize_entry(entry(title="Data\x07 Engineer\x00", company="Ac\x1bme"), FEED, 0)
    assert isinstance(item, JobItem)
    assert (item.title, item.company) == ("Data Engineer", "Acme")


def test_extra_keys_cannot_inject_mongodb_operators_or_paths() -> None:
    assert safe_key("$where") == "_where"
    assert safe_key("a.b.c") == "a_b_c"
    item = normalize_entry(
        entry(extra={"$set": "x", "salary.max": "9", "ok_key": "v", "empty": " "}), FEED, 0
    )
    assert isinstance(item, JobItem)
    assert item.extra == {"_set": "x", "salary_max": "9", "ok_key": "v"}


def test_category_falls_back_to_the_feed_category() -> None:
    with_tag = normalize_entry(entry(categories=["Data"]), FEED, 0)
    without = normalize_entry(entry(), FEED, 0)
    assert isinstance(with_tag, JobItem) and isinstance(without, JobItem)
    assert (with_tag.category, without.category) == ("Data", "Engineering")


def test_duplicate_ids_in_one_feed_keep_the_first() -> None:
    result = normalize([entry(title="first"), entry(title="second"), entry(guid="g-2")], FEED)
    assert [item.title for item in result.items] == ["first", "Engineer"]
    assert result.duplicates == 1


def test_content_hash_changes_with_content_only() -> None:
    base = {
        "title": "T",
        "description": "D",
        "published_at": datetime(2026, 1, 1, tzinfo=UTC),
        "extra": {"a": "1"},
    }
    assert content_hash(base) == content_hash(dict(base))
    assert content_hash(base) != content_hash({**base, "title": "T2"})
    assert content_hash(base) != content_hash({**base, "extra": {"a": "2"}})
    one = normalize_entry(entry(), FEED, 0)
    two = normalize_entry(entry(), FEED, 7)
    assert isinstance(one, JobItem) and isinstance(two, JobItem)
    assert one.content_hash == two.content_hash
