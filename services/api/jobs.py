"""Imported job listings: a filtered, paginated list and single listings."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pymongo import DESCENDING

from job_importer import lifecycle
from services.api.deps import Ctx, Paging, read_access
from services.api.models import Job, JobSummary, Page, errors

router = APIRouter(tags=["jobs"], dependencies=[Depends(read_access)])
_SUMMARY_FIELDS = {name: 1 for name in JobSummary.model_fields if name != "id"}


def contains(text: str) -> dict[str, Any]:
    """A case-insensitive substring match; the input is escaped, so it is never a pattern."""
    return {"$regex": re.escape(text), "$options": "i"}


def job_filter(
    *,
    source: str | None = None,
    company: str | None = None,
    location: str | None = None,
    job_type: str | None = None,
    q: str | None = None,
    status: str = "active",
) -> dict[str, Any]:
    query: dict[str, Any] = lifecycle.status_filter(status)
    if source:
        query["source"] = source
    for name, value in (("company", company), ("location", location), ("job_type", job_type)):
        if value:
            query[name] = contains(value)
    if q:
        query["$or"] = [{"title": contains(q)}, {"company": contains(q)}]
    return query


@router.get("/jobs")
def list_jobs(
    ctx: Ctx,
    paging: Paging,
    source: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Exact provider name")
    ] = None,
    company: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Contains (any case)")
    ] = None,
    location: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Contains (any case)")
    ] = None,
    job_type: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Contains (any case)")
    ] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Title or company contains")
    ] = None,
    status: Annotated[
        Literal["active", "expired", "all"],
        Query(description="Listings still in their feed (the default), expired ones, or all"),
    ] = "active",
) -> Page[JobSummary]:
    """Imported jobs, most recently written first: the active ones unless ``status`` says otherwise."""
    query = job_filter(
        source=source, company=company, location=location, job_type=job_type, q=q, status=status
    )
    docs = (
        ctx.store.jobs.find(query, _SUMMARY_FIELDS)
        .sort([("updated_at", DESCENDING), ("_id", DESCENDING)])
        .skip(paging.skip)
        .limit(paging.page_size)
    )
    items = [JobSummary.from_doc(doc) for doc in docs]
    total = ctx.store.jobs.count_documents(query)
    return Page(items=items, page=paging.page, page_size=paging.page_size, total=total)


@router.get("/jobs/{job_id:path}", responses=errors(404))
def get_job(ctx: Ctx, job_id: str) -> Job:
    """One job with everything stored about it (ids look like ``source#guid``: URL-encode them)."""
    doc = ctx.store.jobs.find_one({"_id": job_id})
    if doc is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no job with id {job_id!r}")
    return Job.from_doc(doc)
