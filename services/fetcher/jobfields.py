"""Reading the structured job fields sources write as text: workplace, salary, dates, company.

Sources spell the same thing many ways ("Fully remote", "REMOTE", "hybrid"; "yearly", "per
annum", "YEAR"; "2026-11-27", "Fri, 27 Nov 2026 09:00:00 GMT"). These functions turn the
spellings we know into the job item's values and anything else into None, so an odd value
never fails an otherwise good listing (its text stays in ``salary`` or ``extra``).
"""

from __future__ import annotations

import calendar
import math
import re
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

from feedparser.datetimes import _parse_date

from job_importer.contract import SalaryPeriod, Workplace

_WORKPLACE_WORDS: tuple[tuple[str, Workplace], ...] = (
    ("hybrid", "hybrid"),
    ("on-site", "onsite"),
    ("onsite", "onsite"),
    ("on site", "onsite"),
    ("telecommute", "remote"),
    ("remote", "remote"),
    ("anywhere", "remote"),
    ("wfh", "remote"),
    ("in office", "onsite"),
    ("in-office", "onsite"),
    ("office", "onsite"),
)
_TRUE = frozenset({"true", "yes", "1", "y"})
_FALSE = frozenset({"false", "no", "0", "n"})
_PERIODS: dict[str, SalaryPeriod] = {
    "hour": "hour", "hourly": "hour", "hr": "hour", "per hour": "hour", "h": "hour",
    "day": "day", "daily": "day", "per day": "day", "d": "day",
    "week": "week", "weekly": "week", "per week": "week", "wk": "week",
    "month": "month", "monthly": "month", "per month": "month", "mo": "month",
    "year": "year", "yearly": "year", "annual": "year", "annually": "year", "per year": "year",
    "per annum": "year", "annum": "year", "yr": "year", "y": "year", "salary": "year",
}  # fmt: skip
_AMOUNT = re.compile(r"\d[\d,. ]*\d|\d")
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}")
_DOTTED_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")  # Jooble: 27.11.2026


def workplace(value: object) -> Workplace | None:
    """remote / hybrid / onsite from a flag or a phrase; None when it doesn't say."""
    if isinstance(value, bool):
        return "remote" if value else None  # "not remote" alone doesn't say onsite vs hybrid
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if text in _TRUE:
        return "remote"
    if not text or text in _FALSE:
        return None
    for word, meaning in _WORKPLACE_WORDS:
        if word in text:
            return meaning
    return None


def salary_period(value: object) -> SalaryPeriod | None:
    if not isinstance(value, str):
        return None
    text = value.strip().lower().removeprefix("per_").replace("_", " ")
    return _PERIODS.get(text) or _PERIODS.get(text.removesuffix("s"))


def currency(value: object) -> str | None:
    """An ISO 4217 code ("usd" -> "USD"); None for symbols and anything else."""
    if isinstance(value, str) and _CURRENCY.match(value.strip()):
        return value.strip().upper()
    return None


def amount(value: object) -> float | None:
    """A non-negative amount from a number or a string such as "120,000" or "55.5"."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _finite(value)
    if not isinstance(value, str):
        return None
    match = _AMOUNT.search(value)
    if match is None:
        return None
    digits = match.group().replace(" ", "")
    if "," in digits and "." in digits:
        digits = digits.replace(",", "")  # 120,000.50
    elif digits.count(",") == 1 and len(digits.split(",")[1]) != 3:
        digits = digits.replace(",", ".")  # 55,5
    else:
        digits = digits.replace(",", "")  # 120,000
    try:
        return _finite(float(digits))
    except ValueError:
        return None


def _finite(value: float) -> float | None:
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float
        return None
    return number if 0 <= number < math.inf else None


def date(value: object) -> datetime | None:
    """A UTC datetime from ISO 8601, RFC 822 or any form feedparser knows; epoch ms numbers too."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 100_000_000_000 else value  # Lever writes milliseconds
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    dotted = _DOTTED_DATE.match(text)
    if dotted:
        day, month, year = (int(part) for part in dotted.groups())
        try:
            return datetime(year, month, day, tzinfo=UTC)
        except ValueError:
            return None
    try:
        parsed = datetime.fromisoformat(text.removesuffix(" UTC").replace("Z", "+00:00"))
    except ValueError:
        if _ISO_DAY.match(text):
            return None  # an impossible ISO date (2024-13-45): feedparser would roll it over
        found = _parse_date(text)
        if not isinstance(found, time.struct_time):
            return None
        return datetime.fromtimestamp(calendar.timegm(found), UTC)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


#: Boards whose RSS titles are "Company: Role" and that name the company nowhere else.
_COMPANY_IN_TITLE_HOSTS = ("weworkremotely.com",)


def company_from_title(title: str, link: str | None) -> str | None:
    """We Work Remotely writes its listings' company only in the title ("Acme: Senior Rails
    Developer"). Read there only for such a board's links: elsewhere a colon in a title is just a
    colon. The title is kept whole, as the board wrote it."""
    host = (urlsplit(link).hostname or "").lower() if link else ""
    if not any(host == board or host.endswith(f".{board}") for board in _COMPANY_IN_TITLE_HOSTS):
        return None
    company, colon, role = title.partition(": ")
    return company.strip() or None if colon and role.strip() else None
