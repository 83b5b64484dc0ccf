"""The data behind the UI's charts: items per interval, and the queue backlog over time."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from job_importer.backlog import read
from job_importer.throughput import items_per_interval
from services.api.deps import Ctx, read_access

router = APIRouter(tags=["stats"], dependencies=[Depends(read_access)])


class ItemsInterval(BaseModel):
    start: datetime
    runs: int
    new: int
    updated: int
    unchanged: int
    failed: int


class QueueCounts(BaseModel):
    ready: int
    delayed: int
    in_progress: int
    dead: int


class BacklogSample(BaseModel):
    at: float  # Unix time
    queues: dict[str, QueueCounts]


@router.get("/stats/items")
def items(
    ctx: Ctx,
    hours: Annotated[int, Query(ge=1, le=24 * 14)] = 24,
    bucket_minutes: Annotated[int, Query(ge=1, le=24 * 60)] = 60,
) -> list[ItemsInterval]:
    """Items per interval of the last hours, by the runs that finished in it (oldest first)."""
    rows = items_per_interval(ctx.store, hours=hours, bucket_minutes=bucket_minutes)
    return [ItemsInterval.model_validate(row) for row in rows[-2000:]]


@router.get("/stats/backlog")
def backlog(ctx: Ctx, hours: Annotated[int, Query(ge=1, le=24 * 14)] = 6) -> list[BacklogSample]:
    """Queue counts sampled every BACKLOG_SAMPLE_S over the last hours (oldest first)."""
    samples = read(ctx.redis, ctx.settings.queue_namespace, time.time() - hours * 3600)
    return [BacklogSample.model_validate(sample) for sample in samples]
