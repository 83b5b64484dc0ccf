"""What every route needs: the process's connections, the token checks, pagination."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated

import redis
from dramatiq.brokers.redis import RedisBroker
from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from job_importer.db import Store
from job_importer.queues import queue_names
from job_importer.settings import Settings
from services.api.models import MAX_PAGE_SIZE


@dataclass(frozen=True)
class ApiContext:
    """Built once per process by ``create_app``."""

    settings: Settings
    store: Store
    broker: RedisBroker
    queue_registry: CollectorRegistry  # the queue gauges, read from Redis at scrape time

    @property
    def redis(self) -> redis.Redis:
        return self.broker.client


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ApiContext, Depends(context)]
_bearer = HTTPBearer(auto_error=False, description="API_TOKEN, as `Authorization: Bearer <token>`.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def require_token(ctx: Ctx, credentials: Credentials) -> None:
    """Mutating endpoints (and read endpoints with API_READ_AUTH) need the configured token.

    (For mutating requests :mod:`services.api.admission` has checked it already, before their body
    was read; this declares it in the OpenAPI schema and covers the reads.)
    """
    check_token(ctx.settings.api_token, credentials.credentials if credentials else None)


def check_token(expected: SecretStr | None, token: str | None) -> None:
    """Raise the 403/401 a request with this bearer token gets; nothing when it is the right one."""
    if expected is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "API_TOKEN is not set on the server, so this endpoint is disabled"
        )
    if token is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing token: send Authorization: Bearer <API_TOKEN>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not secrets.compare_digest(token.encode(), expected.get_secret_value().encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "invalid token",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )


def read_access(ctx: Ctx, credentials: Credentials) -> None:
    if ctx.settings.api_read_auth:
        require_token(ctx, credentials)


@dataclass(frozen=True)
class Pagination:
    page: int
    page_size: int

    @property
    def skip(self) -> int:
        return (self.page - 1) * self.page_size


def pagination(
    page: Annotated[int, Query(ge=1, le=1_000_000, description="1-based page number")] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page")] = 50,
) -> Pagination:
    return Pagination(page, page_size)


Paging = Annotated[Pagination, Depends(pagination)]


def known_queue(ctx: Ctx, queue: str) -> str:
    """The ``queue`` path parameter, checked against the configured queues."""
    names = queue_names(ctx.settings)
    if queue not in names:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"unknown queue {queue!r}; queues are {', '.join(names)}"
        )
    return queue


QueueName = Annotated[str, Depends(known_queue)]
