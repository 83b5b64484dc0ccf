"""Greenhouse's job board API: ``GET boards-api.greenhouse.io/v1/boards/{token}/jobs?content=true``.

``{"jobs": [{"id", "title", "absolute_url", "location": {"name"}, "updated_at", "first_published",
"content" (HTML, entity-escaped once more), "departments": [{"name"}], "offices": [...],
"requisition_id", ...}], "meta": {"total"}}``. Without ``content=true`` there is no description.
"""

from __future__ import annotations

from typing import Any

from services.fetcher.formats import jsonitems
from services.fetcher.formats.entry import unescaped


def values(job: dict[str, Any]) -> dict[str, Any]:
    return {
        "guid": job.get("id"),
        "link": job.get("absolute_url"),
        "title": job.get("title"),
        "description": unescaped(job.get("content")) or None,
        "published": job.get("first_published") or job.get("updated_at"),
        "location": job.get("location"),
        "category": [
            department.get("name")
            for department in job.get("departments") or []
            if isinstance(department, dict)
        ],
        "company": job.get("company_name"),
    }


FORMAT = jsonitems.JsonFormat("greenhouse", "a Greenhouse job board", "/jobs", jsonitems.fixed(values))
