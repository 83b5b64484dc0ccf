"""Recruitee's careers site API: ``GET {company}.recruitee.com/api/offers/``.

``{"offers": [{"id", "slug", "title", "description" (HTML), "requirements", "careers_url",
"careers_apply_url", "published_at", "close_at", "location", "city", "state_name"/"state_code",
"country"/"country_code", "postal_code", "remote", "hybrid", "on_site", "employment_type_code",
"department", "company_name", "salary": {"min", "max", "currency", "period"}, "tags"}]}``.
"""

from __future__ import annotations

from typing import Any

from services.fetcher.formats import jsonitems
from services.fetcher.formats.entry import obj, text


def values(offer: dict[str, Any]) -> dict[str, Any]:
    salary = obj(offer.get("salary"))
    remote = (
        "hybrid"
        if offer.get("hybrid")
        else "remote"
        if offer.get("remote")
        else "onsite"
        if offer.get("on_site")
        else None
    )
    body = "".join(text(offer.get(key)) for key in ("description", "requirements"))
    return {
        "guid": offer.get("id"),
        "link": offer.get("careers_url"),
        "apply_url": offer.get("careers_apply_url"),
        "title": offer.get("title"),
        "content": body or None,
        "published": offer.get("published_at") or offer.get("created_at"),
        "expires": offer.get("close_at"),
        "company": offer.get("company_name"),
        "location": offer.get("location"),
        "city": offer.get("city"),
        "region": offer.get("state_name") or offer.get("state_code"),
        "country": offer.get("country_code") or offer.get("country"),
        "postal_code": offer.get("postal_code"),
        "remote": remote,
        "job_type": offer.get("employment_type_code"),
        "category": offer.get("department") or offer.get("tags"),
        "salary_min": salary.get("min"),
        "salary_max": salary.get("max"),
        "salary_currency": salary.get("currency"),
        "salary_period": salary.get("period"),
    }


FORMAT = jsonitems.JsonFormat("recruitee", "a Recruitee offers list", "/offers", jsonitems.fixed(values))
