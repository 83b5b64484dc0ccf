"""Probes and metrics: /healthz (the process answers), /readyz (Redis and MongoDB answer), /metrics."""

from __future__ import annotations

import pymongo
import redis
from fastapi import APIRouter, HTTPException, Response, status
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from pymongo.errors import PyMongoError

from services.api.deps import ApiContext, Ctx
from services.api.models import Health

router = APIRouter(tags=["health"])
CHECK_TIMEOUT_S = 2.0


@router.get("/healthz")
def healthz() -> Health:
    return Health(status="ok")


def _checks(ctx: ApiContext) -> dict[str, str]:
    checks = {}
    try:
        ctx.redis.ping()
        checks["redis"] = "ok"
    except redis.RedisError as exc:
        checks["redis"] = f"unavailable: {exc}"
    try:
        with pymongo.timeout(CHECK_TIMEOUT_S):
            ctx.store.db.client.admin.command("ping")
        checks["mongodb"] = "ok"
    except PyMongoError as exc:
        checks["mongodb"] = f"unavailable: {str(exc).split(',')[0]}"
    return checks


@router.get("/readyz", responses={503: {"model": Health, "description": "Redis or MongoDB does not answer"}})
def readyz(ctx: Ctx, response: Response) -> Health:
    checks = _checks(ctx)
    if all(value == "ok" for value in checks.values()):
        return Health(status="ok", checks=checks)
    response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(status="unavailable", checks=checks)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"}},
)
async def metrics(ctx: Ctx) -> Response:
    """This process's metrics and the queue gauges (read from Redis now)."""
    if not ctx.settings.metrics_enabled:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "metrics are off (METRICS_ENABLED=false)")
    queues: CollectorRegistry = ctx.queue_registry
    body = await run_in_threadpool(lambda: generate_latest(REGISTRY) + generate_latest(queues))
    return Response(body, media_type=CONTENT_TYPE_LATEST)
