"""The message browser: every queue's ready, delayed, in-progress and dead messages, one message
in full, and promote / requeue / delete of one or many (see :mod:`job_importer.messages`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import BaseModel, Field

from job_importer.deadletters import DeadLetters
from job_importer.messages import STATES, MessageDetail, MessageSummary, QueueBrowser, State
from services.api.deps import ApiContext, Ctx, Paging, QueueName, read_access, require_token
from services.api.models import Page, errors

router = APIRouter(tags=["messages"])
NOT_FOUND = errors(404)
MAX_IDS = 500


class MessageIds(BaseModel):
    ids: list[Annotated[str, Field(max_length=200)]] = Field(min_length=1, max_length=MAX_IDS)


class Acted(BaseModel):
    count: int
    ids: list[str] = Field(description="The messages acted on.")
    skipped: list[str] = Field(
        description="Ids not acted on: no such message in that state, or claimed by a worker."
    )


def _browser(ctx: ApiContext, queue: str) -> QueueBrowser:
    return QueueBrowser.of(ctx.redis, ctx.settings, queue)


def _acted(asked: list[str], done: list[str]) -> Acted:
    return Acted(count=len(done), ids=done, skipped=[mid for mid in asked if mid not in set(done)])


@router.get("/queues/{queue}/messages", dependencies=[Depends(read_access)], responses=NOT_FOUND)
def list_messages(
    ctx: Ctx,
    queue: QueueName,
    paging: Paging,
    state: Annotated[State, Query(description=f"One of {', '.join(STATES)}")] = "ready",
) -> Page[MessageSummary]:
    """One page of the queue's messages in a state: ready in delivery order, dead newest first,
    delayed and in progress by id."""
    rows, total = _browser(ctx, queue).list(state, limit=paging.page_size, skip=paging.skip)
    return Page(items=rows, page=paging.page, page_size=paging.page_size, total=total)


@router.get("/queues/{queue}/messages/{message_id}", dependencies=[Depends(read_access)], responses=NOT_FOUND)
def get_message(
    ctx: Ctx, queue: QueueName, message_id: Annotated[str, Path(max_length=200)]
) -> MessageDetail:
    """One message in full: its payload (credentials redacted), its last error and traceback."""
    detail = _browser(ctx, queue).get(message_id)
    if detail is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no message {message_id!r} in queue {queue!r}")
    return detail


@router.post("/queues/{queue}/messages/promote", dependencies=[Depends(require_token)], responses=NOT_FOUND)
def promote_messages(ctx: Ctx, queue: QueueName, body: MessageIds) -> Acted:
    """Send delayed messages (waiting for a retry or a Retry-After) to the ready queue now."""
    return _acted(body.ids, _browser(ctx, queue).promote(ctx.broker, body.ids))


@router.post("/queues/{queue}/messages/requeue", dependencies=[Depends(require_token)], responses=NOT_FOUND)
def requeue_messages(ctx: Ctx, queue: QueueName, body: MessageIds) -> Acted:
    """Send dead messages back to their queue with fresh retries."""
    letters = DeadLetters(ctx.redis, ctx.settings.queue_namespace, queue)
    done = [mid for mid in body.ids if letters.requeue(ctx.broker, [mid])]
    return _acted(body.ids, done)


@router.post("/queues/{queue}/messages/delete", dependencies=[Depends(require_token)], responses=NOT_FOUND)
def delete_messages(ctx: Ctx, queue: QueueName, body: MessageIds) -> Acted:
    """Delete ready, delayed or dead messages for good; their items count as failed on their runs.
    Messages a worker has claimed are skipped."""
    return _acted(body.ids, _browser(ctx, queue).delete(ctx.settings, ctx.store, body.ids))
