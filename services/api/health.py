"""Probes and metrics: /healthz (the process answers), /readyz (it can serve), /metrics.

Readiness follows what the API can still serve, not whether everything is up: with MongoDB down
the queue, message-browser, dead-letter, pause/resume and metrics endpoints still work (they need
Redis only), and they are what an operator needs during that outage. So /readyz is 200
("degraded", with the checks saying what is missing) while Redis answers, and 503 only without
Redis, which leaves the API nothing to serve. Taking every pod out of the Service because
MongoDB is away would hide those pages exactly when they matter (docs/kubernetes.md).
"""

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


@router.get("/readyz", responses={503: {"model": Health, "description": "Redis does not answer"}})
def readyz(ctx: Ctx, response: Response) -> Health:
    """200 "ok" with Redis and MongoDB; 200 "degraded" without MongoDB (the Redis-only endpoints
    still serve); 503 without Redis."""
    checks = _checks(ctx)
    if checks["redis"] != "ok":
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Health(status="unavailable", checks=checks)
    return Health(status="ok" if checks["mongodb"] == "ok" else "degraded", checks=checks)


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
