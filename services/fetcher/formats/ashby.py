"""Ashby's public job board API: ``GET api.ashbyhq.com/posting-api/job-board/{name}?includeCompensation=true``.

``{"apiVersion", "jobs": [{"id", "title", "jobUrl", "applyUrl", "publishedAt", "location",
"department", "team", "employmentType" (FullTime, PartTime, Intern, Contract, Temporary),
"isRemote", "workplaceType" (OnSite, Remote, Hybrid), "descriptionHtml", "descriptionPlain",
"address": {"postalAddress": {"addressLocality", "addressRegion", "addressCountry",
"postalCode"}}, "compensation": {"scrapeableCompensationSalarySummary", "summaryComponents":
[{"compensationType": "Salary", "interval", "currencyCode", "minValue", "maxValue"}]}}]}``.
"""

from __future__ import annotations

from typing import Any

from services.fetcher.formats import jsonitems
from services.fetcher.formats.entry import obj
from services.fetcher.formats.mapping import resolve

_EMPLOYMENT = {"FullTime": "Full-time", "PartTime": "Part-time", "Intern": "Internship"}


def values(job: dict[str, Any]) -> dict[str, Any]:
    address = obj(resolve(job, "/address/postalAddress"))
    compensation = obj(job.get("compensation"))
    salary = next(
        (
            part
            for part in compensation.get("summaryComponents") or []
            if isinstance(part, dict) and part.get("compensationType") == "Salary"
        ),
        {},
    )
    workplace = job.get("workplaceType")
    employment = job.get("employmentType")
    return {
        "guid": job.get("id"),
        "link": job.get("jobUrl"),
        "apply_url": job.get("applyUrl"),
        "title": job.get("title"),
        "description": job.get("descriptionPlain"),
        "content": job.get("descriptionHtml"),
        "published": job.get("publishedAt"),
        "location": job.get("location"),
        "category": job.get("department") or job.get("team"),
        "job_type": _EMPLOYMENT.get(employment, employment) if isinstance(employment, str) else None,
        "remote": workplace if isinstance(workplace, str) else job.get("isRemote"),
        "city": address.get("addressLocality") if isinstance(address, dict) else None,
        "region": address.get("addressRegion") if isinstance(address, dict) else None,
        "country": address.get("addressCountry") if isinstance(address, dict) else None,
        "postal_code": address.get("postalCode") if isinstance(address, dict) else None,
        "salary": compensation.get("scrapeableCompensationSalarySummary")
        or compensation.get("compensationTierSummary"),
        "salary_min": salary.get("minValue"),
        "salary_max": salary.get("maxValue"),
        "salary_currency": salary.get("currencyCode"),
        "salary_period": str(salary.get("interval", "")).removeprefix("1 ") or None,
    }


def listed(job: object) -> bool:
    """Unlisted jobs are left out (not counted); anything not an object fails as an item."""
    return not isinstance(job, dict) or bool(job.get("isListed", True))


FORMAT = jsonitems.JsonFormat("ashby", "an Ashby job board", "/jobs", jsonitems.fixed(values), keep=listed)
