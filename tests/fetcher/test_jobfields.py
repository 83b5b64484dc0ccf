"""Structured job fields from the spellings sources use; odd values become None, never an error."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.fetcher import jobfields


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Fully remote", "remote"), ("REMOTE", "remote"), ("Hybrid", "hybrid"), ("OnSite", "onsite"),
        ("on-site", "onsite"), ("Anywhere in the World", "remote"), (True, "remote"), ("true", "remote"),
        (False, None), ("unspecified", None), ("", None), (None, None), ({"a": 1}, None),
    ],
)  # fmt: skip
def test_workplace(value: object, expected: str | None) -> None:
    assert jobfields.workplace(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120,000", 120000.0), ("$55.5k", 55.5), ("55,5", 55.5), ("1,200.50", 1200.5), (81000, 81000.0),
        ("EUR 60000 - 70000", 60000.0), (-3, None), (True, None), ("none", None), (10**400, None),
        ("9" * 400, None), (float("nan"), None), ({"min": 1}, None),
    ],
)  # fmt: skip
def test_amount(value: object, expected: float | None) -> None:
    assert jobfields.amount(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2014-07-31T07:27:14", datetime(2014, 7, 31, 7, 27, 14, tzinfo=UTC)),
        ("Thu, 31 Jul 2014 07:27:14 PDT", datetime(2014, 7, 31, 14, 27, 14, tzinfo=UTC)),
        ("2026-11-27 10:00:00 UTC", datetime(2026, 11, 27, 10, tzinfo=UTC)),
        ("27.11.2026", datetime(2026, 11, 27, tzinfo=UTC)),
        (1502907172814, datetime(2017, 8, 16, 18, 12, 52, 814000, tzinfo=UTC)),
        ("2024-13-45", None), ("31.02.2026", None), ("garbage", None), (10**30, None), ("", None),
    ],
)  # fmt: skip
def test_date(value: object, expected: datetime | None) -> None:
    assert jobfields.date(value) == expected


def test_period_and_currency() -> None:
    assert [jobfields.salary_period(v) for v in ("YEAR", "monthly", "hours", "per annum", "fortnight")] == [
        "year", "month", "hour", "year", None,
    ]  # fmt: skip
    assert [jobfields.currency(v) for v in ("usd", "EUR", "$", "euro", None)] == [
        "USD",
        "EUR",
        None,
        None,
        None,
    ]
