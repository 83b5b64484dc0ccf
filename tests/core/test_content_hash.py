"""Content hashes stay what earlier versions stored, so an upgrade that adds job fields does not
count every stored listing as updated."""

from __future__ import annotations

from datetime import UTC, datetime

from job_importer.contract import HASHED_IF_SET, content_hash

BEFORE_THE_JOB_FIELDS = {
    "title": "Engineer",
    "link": "https://x.example/1",
    "company": "Acme",
    "published_at": datetime(2026, 11, 27, 9, tzinfo=UTC),
    "extra": {"job_listing_salary": "$120k"},
}


def test_hashes_of_listings_without_the_new_fields_are_unchanged() -> None:
    # Computed by the contract of commit d39c042 (before the structured job fields existed).
    assert content_hash(BEFORE_THE_JOB_FIELDS) == "e1b29736b1b7bad73b1739041b82e197"
    assert content_hash({"title": "Engineer"}) == "cf63b50946073905dfdfa76eab1c6581"
    unset = dict.fromkeys(HASHED_IF_SET)
    assert content_hash({**BEFORE_THE_JOB_FIELDS, **unset}) == "e1b29736b1b7bad73b1739041b82e197"


def test_each_new_field_counts_once_set() -> None:
    values = {
        "country": "DE",
        "region": "BE",
        "city": "Berlin",
        "postal_code": "10115",
        "remote": "hybrid",
        "salary": "€60k",
        "salary_min": 60000.0,
        "salary_max": 70000.0,
        "salary_currency": "EUR",
        "salary_period": "year",
        "apply_url": "https://x.example/apply",
        "expires_at": datetime(2026, 12, 31, tzinfo=UTC),
    }
    assert set(values) == set(HASHED_IF_SET)
    hashes = {content_hash({**BEFORE_THE_JOB_FIELDS, name: value}) for name, value in values.items()}
    assert len(hashes) == len(values) and content_hash(BEFORE_THE_JOB_FIELDS) not in hashes
