"""The feed registry over HTTP: list, read, add, change, enable, disable and remove feeds.

Feeds from the config (FEEDS, FEEDS_FILE, the chart's ``feeds:``) may be enabled and disabled
here, nothing else: the config is where they change (409 says so). URLs given here pass the SSRF
guard, as those of ``POST /imports/start`` do, and their fetches are checked again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from job_importer import feed_registry
from job_importer.feed_registry import RegisteredFeed
from job_importer.netguard import BlockedURL, check_url
from job_importer.settings import Settings
from job_importer.views import public_feed
from services.api.deps import Ctx, read_access, require_token
from services.api.models import Feed, FeedCreate, FeedUpdate, errors

router = APIRouter(tags=["feeds"])
FeedId = Annotated[str, Path(max_length=100, description="The feed's id (GET /feeds)")]


def feed_view(feed: RegisteredFeed, settings: Settings, at: datetime | None = None) -> Feed:
    """A registered feed as the API shows it: URL redacted, the next fetch computed now."""
    return Feed.model_validate(public_feed(feed, settings.schedule_cron, at or datetime.now(UTC)))


def _changed(ctx: Ctx, change: Callable[[], RegisteredFeed]) -> Feed:
    """Make a registry change; its refusals as the HTTP answers that say why."""
    try:
        return feed_view(change(), ctx.settings)
    except feed_registry.FeedNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except (feed_registry.FeedExists, feed_registry.ConfigManaged) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except ValidationError as exc:  # the change, merged with the feed, is not a valid feed
        raise RequestValidationError(
            [
                {**error, "loc": ("body", *error["loc"])}
                for error in exc.errors(include_url=False, include_context=False)
            ]
        ) from None


def _guard(ctx: Ctx, url: str | None) -> None:
    """The SSRF rule for a URL given through the API, as a 422 on ``body.url``."""
    if url is None:
        return
    try:
        check_url(url, allow_private=ctx.settings.api_allow_private_feeds)
    except BlockedURL as exc:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body", "url"), "msg": str(exc), "input": url}]
        ) from None


@router.get("/feeds", dependencies=[Depends(read_access)])
def list_feeds(
    ctx: Ctx, enabled: Annotated[bool | None, Query(description="Only enabled (or disabled) feeds")] = None
) -> list[Feed]:
    """Every feed of the registry, by source then URL, with its health and next fetch."""
    at = datetime.now(UTC)
    return [
        feed_view(feed, ctx.settings, at) for feed in feed_registry.list_feeds(ctx.store, enabled=enabled)
    ]


@router.get("/feeds/{feed_id}", dependencies=[Depends(read_access)], responses=errors(404))
def get_feed(ctx: Ctx, feed_id: FeedId) -> Feed:
    return _changed(ctx, lambda: feed_registry.get_feed(ctx.store, feed_id))


@router.post(
    "/feeds",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(require_token)],
    responses=errors(409),
)
def create_feed(ctx: Ctx, body: FeedCreate) -> Feed:
    """Add a feed (managed by the API); it is fetched from the next slot of its schedule on."""
    _guard(ctx, body.url)
    return _changed(ctx, lambda: feed_registry.add_feed(ctx.store, body, "api"))


@router.patch("/feeds/{feed_id}", dependencies=[Depends(require_token)], responses=errors(404, 409))
def update_feed(ctx: Ctx, feed_id: FeedId, body: FeedUpdate) -> Feed:
    """Change the given fields of a feed added through the API (409 for a config feed)."""
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    _guard(ctx, changes.get("url"))
    return _changed(ctx, lambda: feed_registry.update_feed(ctx.store, feed_id, changes))


@router.post("/feeds/{feed_id}/enable", dependencies=[Depends(require_token)], responses=errors(404))
def enable_feed(ctx: Ctx, feed_id: FeedId) -> Feed:
    """Schedule the feed again, from its next slot (config feeds too)."""
    return _changed(ctx, lambda: feed_registry.set_enabled(ctx.store, feed_id, True))


@router.post("/feeds/{feed_id}/disable", dependencies=[Depends(require_token)], responses=errors(404))
def disable_feed(ctx: Ctx, feed_id: FeedId) -> Feed:
    """Stop scheduling the feed (config feeds too); runs under way finish."""
    return _changed(ctx, lambda: feed_registry.set_enabled(ctx.store, feed_id, False))


@router.delete(
    "/feeds/{feed_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[Depends(require_token)],
    responses=errors(404, 409),
)
def delete_feed(ctx: Ctx, feed_id: FeedId) -> Response:
    """Remove a feed added through the API (409 for a config feed); its runs and listings stay."""
    _changed(ctx, lambda: feed_registry.remove_feed(ctx.store, feed_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
