"""Lever's postings API: ``GET api.lever.co/v0/postings/{site}?mode=json``.

A JSON array of postings: ``{"id", "text" (the title), "hostedUrl", "applyUrl", "createdAt"
(epoch milliseconds), "categories": {"commitment", "department", "location", "team",
"allLocations"}, "country", "workplaceType" (remote/hybrid/onsite/unspecified),
"description"/"descriptionPlain", "lists": [{"text", "content"}], "additional",
"salaryRange": {"currency", "interval", "min", "max"}, "salaryDescription"}``.
"""

from __future__ import annotations

from typing import Any

from services.fetcher.formats import jsonitems
from services.fetcher.formats.entry import obj, text

#: Lever's salary intervals.
_INTERVALS = {
    "per-year-salary": "year",
    "per-month-salary": "month",
    "per-week-salary": "week",
    "per-day-wage": "day",
    "per-hour-wage": "hour",
}


def values(posting: dict[str, Any]) -> dict[str, Any]:
    categories = obj(posting.get("categories"))
    salary = obj(posting.get("salaryRange"))
    sections = [
        f"<h3>{text(part.get('text'))}</h3><ul>{text(part.get('content'))}</ul>"
        for part in posting.get("lists") or []
        if isinstance(part, dict)
    ]
    body = "".join([text(posting.get("description")), *sections, text(posting.get("additional"))])
    return {
        "guid": posting.get("id"),
        "link": posting.get("hostedUrl"),
        "apply_url": posting.get("applyUrl"),
        "title": posting.get("text"),
        "description": posting.get("descriptionPlain") or None,
        "content": body or None,
        "published": posting.get("createdAt"),
        "location": categories.get("location"),
        "job_type": categories.get("commitment"),
        "category": categories.get("department") or categories.get("team"),
        "country": posting.get("country"),
        "remote": None if posting.get("workplaceType") == "unspecified" else posting.get("workplaceType"),
        "salary": posting.get("salaryDescriptionPlain") or posting.get("salaryDescription"),
        "salary_min": salary.get("min"),
        "salary_max": salary.get("max"),
        "salary_currency": salary.get("currency"),
        "salary_period": _INTERVALS.get(text(salary.get("interval"))),
    }


FORMAT = jsonitems.JsonFormat("lever", "a Lever postings list", "", jsonitems.fixed(values))
