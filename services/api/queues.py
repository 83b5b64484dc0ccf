"""Queues: counts, pause/resume, and the message-level dead letters."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, status

from job_importer.control import pause, resume
from job_importer.deadletters import DeadLetter, DeadLetters
from job_importer.pending import PendingItems
from job_importer.views import queue_overview
from services.api.deps import ApiContext, Ctx, Paging, QueueName, read_access, require_token
from services.api.models import Count, Page, Queue, errors

router = APIRouter(tags=["queues"])
NOT_FOUND = errors(404)


def _queues(ctx: ApiContext) -> list[Queue]:
    return [Queue(**row) for row in queue_overview(ctx.redis, ctx.settings)]


@router.get("/queues", dependencies=[Depends(read_access)])
def list_queues(ctx: Ctx) -> list[Queue]:
    """Messages per queue: ready, delayed (retrying), in progress, dead; paused or not; live workers."""
    return _queues(ctx)


@router.post("/queues/{queue}/pause", dependencies=[Depends(require_token)], responses=NOT_FOUND)
def pause_queue(ctx: Ctx, queue: QueueName) -> list[Queue]:
    """Workers stop taking messages from the queue within a second; messages stay queued."""
    pause(ctx.redis, ctx.settings.queue_namespace, [queue])
    return _queues(ctx)


@router.post("/queues/{queue}/resume", dependencies=[Depends(require_token)], responses=NOT_FOUND)
def resume_queue(ctx: Ctx, queue: QueueName) -> list[Queue]:
    resume(ctx.redis, ctx.settings.queue_namespace, [queue])
    return _queues(ctx)


@router.get("/queues/{queue}/dead", dependencies=[Depends(read_access)], responses=NOT_FOUND)
def list_dead_letters(ctx: Ctx, queue: QueueName, paging: Paging) -> Page[DeadLetter]:
    """Messages whose retries ran out, newest first, with the reason."""
    letters = _dead(ctx, queue)
    return Page(
        items=letters.list(limit=paging.page_size, skip=paging.skip),
        page=paging.page,
        page_size=paging.page_size,
        total=letters.count(),
    )


@router.post("/queues/{queue}/dead/requeue", dependencies=[Depends(require_token)], responses=NOT_FOUND)
def requeue_all_dead(ctx: Ctx, queue: QueueName) -> Count:
    """Send every dead message of the queue back with fresh retries."""
    return Count(count=_dead(ctx, queue).requeue(ctx.broker))


@router.post(
    "/queues/{queue}/dead/{message_id}/requeue", dependencies=[Depends(require_token)], responses=NOT_FOUND
)
def requeue_one_dead(ctx: Ctx, queue: QueueName, message_id: str) -> Count:
    count = _dead(ctx, queue).requeue(ctx.broker, [message_id])
    return Count(count=_found(count, queue, message_id))


@router.delete("/queues/{queue}/dead", dependencies=[Depends(require_token)], responses=NOT_FOUND)
def delete_all_dead(ctx: Ctx, queue: QueueName) -> Count:
    """Delete every dead message of the queue for good."""
    return Count(count=_dead(ctx, queue).purge(_pending(ctx)))


@router.delete(
    "/queues/{queue}/dead/{message_id}", dependencies=[Depends(require_token)], responses=NOT_FOUND
)
def delete_one_dead(ctx: Ctx, queue: QueueName, message_id: str) -> Count:
    count = _dead(ctx, queue).purge(_pending(ctx), [message_id])
    return Count(count=_found(count, queue, message_id))


def _dead(ctx: ApiContext, queue: str) -> DeadLetters:
    return DeadLetters(ctx.redis, ctx.settings.queue_namespace, queue)


def _pending(ctx: ApiContext) -> PendingItems:
    return PendingItems.for_settings(ctx.redis, ctx.settings)


def _found(count: int, queue: str, message_id: str) -> int:
    if count == 0:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no dead message {message_id!r} in queue {queue!r}")
    return count
