"""Workable's public job widget API: ``GET apply.workable.com/api/v1/widget/accounts/{subdomain}``
(also ``www.workable.com/api/accounts/{subdomain}?details=true``, with descriptions).

``{"name" (the company), "description", "jobs": [{"title", "shortcode", "code", "url",
"shortlink", "application_url", "employment_type", "telecommuting", "department",
"published_on", "created_at", "country", "city", "state", "zip_code", "locations": [{"country",
"countryCode", "city", "region"}], "description" (with details)}]}``. The shortcode is the job's
identity.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.fetcher.formats import jsonitems
from services.fetcher.formats.document import Document
from services.fetcher.formats.entry import obj


def values_for(top: Mapping[str, Any], document: Document) -> jsonitems.ToValues:
    company = top.get("name")  # the account's: before "jobs" in Workable's answers

    def values(job: dict[str, Any]) -> dict[str, Any]:
        locations = job.get("locations") if isinstance(job.get("locations"), list) else []
        place = obj(locations[0]) if locations else {}
        return {
            "guid": job.get("shortcode") or job.get("id"),
            "link": job.get("url") or job.get("shortlink"),
            "apply_url": job.get("application_url"),
            "title": job.get("title"),
            "content": job.get("description"),
            "published": job.get("published_on") or job.get("created_at"),
            "company": company,
            "city": job.get("city") or place.get("city"),
            "region": job.get("state") or place.get("region"),
            "country": place.get("countryCode") or job.get("country"),
            "postal_code": job.get("zip_code"),
            "location": ", ".join(
                str(part) for part in (job.get("city"), job.get("state"), job.get("country")) if part
            ),
            "remote": True if job.get("telecommuting") else None,
            "job_type": job.get("employment_type"),
            "category": job.get("department"),
        }

    return values


FORMAT = jsonitems.JsonFormat(
    "workable", "a Workable job list", "/jobs", values_for, context=frozenset({"name"})
)
