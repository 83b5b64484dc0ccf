"""Failed items (the item-level dead letter): list, send again, delete."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pymongo import DESCENDING

from job_importer.resend import resend_failed, resendable
from job_importer.views import public_failed_item
from services.api.deps import Ctx, Paging, read_access, require_token
from services.api.models import Count, FailedItem, Page, Resent, errors

router = APIRouter(tags=["failed items"])
RunFilter = Annotated[str | None, Query(max_length=200, description="Only items of this run")]


def _filter(run_id: str | None, stage: str | None = None) -> dict[str, Any]:
    return {
        **({"run_id": run_id} if run_id else {}),
        **({"stage": stage} if stage else {}),
    }


def _item(doc: dict[str, Any]) -> FailedItem:
    return FailedItem.model_validate(public_failed_item(doc))


@router.get("/failed-items", dependencies=[Depends(read_access)])
def list_failed_items(
    ctx: Ctx,
    paging: Paging,
    run_id: RunFilter = None,
    stage: Annotated[Literal["fetch", "import"] | None, Query()] = None,
) -> Page[FailedItem]:
    """Items that could not be imported, newest first, with the reason and an excerpt."""
    query = _filter(run_id, stage)
    docs = (
        ctx.store.failed_items.find(query)
        .sort("created_at", DESCENDING)
        .skip(paging.skip)
        .limit(paging.page_size)
    )
    return Page(
        items=[_item(doc) for doc in docs],
        page=paging.page,
        page_size=paging.page_size,
        total=ctx.store.failed_items.count_documents(query),
    )


@router.post(
    "/failed-items/requeue", status_code=status.HTTP_202_ACCEPTED, dependencies=[Depends(require_token)]
)
def requeue_failed_items(ctx: Ctx, run_id: RunFilter = None) -> Resent:
    """Send every import-stage failure (of a run, or all) to the importer again, as new runs.

    Fetch-stage failures are counted as skipped: there is nothing stored to send again.
    """
    docs = ctx.store.failed_items.find(_filter(run_id)).sort("created_at", DESCENDING)
    resent = resend_failed(ctx.settings, ctx.store, ctx.broker, docs)
    return Resent.model_validate(resent.__dict__)


@router.post(
    "/failed-items/{item_id:path}/requeue",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Depends(require_token)],
    responses=errors(404, 409),
)
def requeue_failed_item(ctx: Ctx, item_id: str) -> Resent:
    """Send one import-stage failure to the importer again, as a new run."""
    doc = ctx.store.failed_items.find_one({"_id": item_id})
    if doc is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no failed item {item_id!r}")
    if not resendable(doc):
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            "this item failed while it was fetched (no identity or invalid fields), so nothing was kept "
            "to send again: fix the feed, then import it again",
        )
    resent = resend_failed(ctx.settings, ctx.store, ctx.broker, [doc])
    return Resent.model_validate(resent.__dict__)


@router.delete("/failed-items", dependencies=[Depends(require_token)])
def delete_failed_items(ctx: Ctx, run_id: RunFilter = None) -> Count:
    """Delete the failed-item records (of a run, or all). The run history keeps its counts."""
    return Count(count=ctx.store.failed_items.delete_many(_filter(run_id)).deleted_count)


@router.delete("/failed-items/{item_id:path}", dependencies=[Depends(require_token)], responses=errors(404))
def delete_failed_item(ctx: Ctx, item_id: str) -> Count:
    deleted = ctx.store.failed_items.delete_one({"_id": item_id}).deleted_count
    if not deleted:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no failed item {item_id!r}")
    return Count(count=deleted)
