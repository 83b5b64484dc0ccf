"""Imports: start them, read the history, follow them live."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.sse import EventSourceResponse, ServerSentEvent

from job_importer import feed_registry, history
from job_importer.feed_registry import RegisteredFeed
from job_importer.netguard import BlockedURL, check_url
from job_importer.redact import redact
from job_importer.settings import FeedConfig
from job_importer.trigger import start_import
from services.api.deps import Ctx, Paging, read_access, require_token
from services.api.models import Page, Run, RunDetail, RunStatus, Started, StartImport, errors
from services.api.stream import POLL_SECONDS, RunWatcher

router = APIRouter(tags=["imports"])
RETRY_MS = 2000


@router.post(
    "/imports/start",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Depends(require_token)],
    responses=errors(409),
)
def start(ctx: Ctx, body: Annotated[StartImport | None, Body()] = None) -> Started:
    """Start one run per feed: the given feed URLs, or every enabled feed of the registry.

    URLs that are not in the registry must pass the SSRF guard: http(s), and a host that resolves
    to public addresses only (unless API_ALLOW_PRIVATE_FEEDS); their fetches, and those of feeds
    added through the API, are checked again, redirects included.
    """
    registered = feed_registry.list_feeds(ctx.store)
    by_url = _registered_by_url(registered)
    if body is None or body.feeds is None:
        feeds: list[FeedConfig] = [feed.feed() for feed in registered if feed.enabled]
        if not feeds:
            raise HTTPException(
                status.HTTP_409_CONFLICT, "no feeds are enabled in the registry (GET /feeds): give 'feeds'"
            )
    else:
        chosen = [by_url[url].feed() if url in by_url else FeedConfig(url=url) for url in body.feeds]
        feeds = list({feed.url: feed for feed in chosen}.values())
    config_urls = {feed.url for feed in registered if feed.managed_by == "config"}
    ad_hoc = {feed.url for feed in feeds if feed.url not in config_urls}
    problems = []
    for index, feed in enumerate(feeds):
        try:
            if feed.url not in by_url:
                check_url(feed.url, allow_private=ctx.settings.api_allow_private_feeds)
        except BlockedURL as exc:
            problems.append(
                {"type": "value_error", "loc": ("body", "feeds", index), "msg": str(exc), "input": feed.url}
            )
    if problems:  # the same shape as every other 422
        raise RequestValidationError(problems)
    started = start_import(
        ctx.settings, ctx.store, ctx.broker, feeds, "api", guarded=ad_hoc, registered=set(by_url)
    )
    return Started(batch_id=started.batch_id, run_ids=started.run_ids)


def _registered_by_url(feeds: list[RegisteredFeed]) -> dict[str, RegisteredFeed]:
    """Registered feeds by their URL and by their redacted URL (what GET /feeds shows)."""
    by_url = {redact(feed.url): feed for feed in feeds}
    by_url.update({feed.url: feed for feed in feeds})
    return by_url


@router.get("/imports", dependencies=[Depends(read_access)])
def list_imports(
    ctx: Ctx,
    paging: Paging,
    feed: Annotated[str | None, Query(max_length=2000, description="Only runs of this feed URL")] = None,
    status_: Annotated[RunStatus | None, Query(alias="status")] = None,
    batch_id: Annotated[str | None, Query(max_length=100)] = None,
    since: Annotated[datetime | None, Query(description="Created at or after (ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(description="Created before (ISO 8601)")] = None,
) -> Page[Run]:
    """The import history, newest first: one run per feed per import."""
    if since and until and since >= until:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("query", "until"),
                    "msg": "'until' must be after 'since'",
                    "input": until,
                }
            ]
        )
    filters: dict[str, Any] = {
        "feed_url": feed,
        "status": status_,
        "batch_id": batch_id,
        "since": since,
        "until": until,
    }
    runs = history.list_runs(ctx.store, limit=paging.page_size, skip=paging.skip, **filters)
    total = ctx.store.runs.count_documents(history.run_filter(**filters))
    return Page(
        items=[Run.from_doc(run) for run in runs], page=paging.page, page_size=paging.page_size, total=total
    )


@router.get(
    "/imports/stream",
    response_class=EventSourceResponse,
    dependencies=[Depends(read_access)],
    responses={200: {"description": "`progress` events while runs move, one `finished` event per run."}},
)
async def stream(ctx: Ctx) -> AsyncIterator[ServerSentEvent]:
    """Server-Sent Events: ``progress`` (data: a run) whenever an active run's status or counts
    change, ``finished`` (data: the run) once when it completes or fails."""
    watcher = RunWatcher(ctx.store, history.now())
    yield ServerSentEvent(comment="watching runs", retry=RETRY_MS)
    while True:
        for event, run in await run_in_threadpool(watcher.poll):
            yield ServerSentEvent(event=event, id=run.run_id, data=run)
        await asyncio.sleep(POLL_SECONDS)


@router.get(
    "/imports/{run_id}",
    dependencies=[Depends(read_access)],
    responses=errors(404),
)
def get_import(ctx: Ctx, run_id: str) -> RunDetail:
    """One run with its first failures and their reasons (details: GET /failed-items?run_id=)."""
    run = history.get_run(ctx.store, run_id)
    if run is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no run with id {run_id!r}")
    return RunDetail.model_validate({**run, "run_id": run["_id"]})
