"""The HTTP API and admin UI of the fetcher service. Run with `job-importer api`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

import redis
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from prometheus_client import CollectorRegistry
from pymongo.errors import PyMongoError

from job_importer import feed_registry, metrics
from job_importer.backlog import BacklogSampler
from job_importer.broker import build_broker
from job_importer.db import ensure_indexes, get_store
from job_importer.queues import QueueCollector
from job_importer.settings import Settings
from services.api import failed, feeds, health, imports, jobs, messages, queues, stats
from services.api.access import AccessLog
from services.api.admission import Admission
from services.api.deps import ApiContext
from services.api.hardening import Hardening, allowed_hosts
from services.api.models import errors

log = logging.getLogger(__name__)
STATIC = resources.files(__package__).joinpath("static")


def create_app(settings: Settings) -> FastAPI:
    """The application for these settings: API routes, /ui/ (the admin UI) and /metrics."""
    broker = build_broker(settings)
    queue_registry = CollectorRegistry(auto_describe=False)
    queue_registry.register(QueueCollector(broker.client, settings))
    metrics.configure_feeds(settings.feed_configs())
    ctx = ApiContext(
        settings=settings, store=get_store(settings), broker=broker, queue_registry=queue_registry
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            await run_in_threadpool(ensure_indexes, ctx.store)
            # The registry follows the config (FEEDS, FEEDS_FILE, the chart's feeds:).
            await run_in_threadpool(feed_registry.sync_config, ctx.store, settings.feed_specs())
        except PyMongoError as exc:  # serve anyway: /readyz says what is missing
            log.warning("could not create MongoDB indexes or sync the feed registry now: %s", exc)
        sampler = BacklogSampler(broker.client, settings)  # the UI's backlog chart
        sampler.start()
        yield
        sampler.stop()

    # FastAPIOffline: /docs and /redoc load Swagger UI and ReDoc from the fastapi-offline package
    # (served under /static-offline-docs), so they work without internet.
    app = FastAPIOffline(
        title="job-importer",
        summary="Start and follow feed imports, browse jobs, manage queues and dead letters.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.add_middleware(AccessLog)
    # Outermost: refused requests never reach the app, and no body is read before the token is known.
    app.add_middleware(Admission, token=settings.api_token, max_body_bytes=settings.api_max_body_bytes)
    # Added last, so outermost: an unknown Host is refused before anything else looks at the request.
    app.add_middleware(Hardening, hosts=allowed_hosts(settings.api_allowed_hosts, settings.api_host))
    for module in (feeds, imports, jobs, queues, messages, failed, stats):
        app.include_router(module.router, responses=errors(401, 403))
    app.include_router(health.router)
    app.mount("/ui", StaticFiles(directory=str(STATIC), html=True), name="ui")

    @app.exception_handler(redis.RedisError)
    async def redis_unavailable(_request: Request, exc: redis.RedisError) -> JSONResponse:
        return JSONResponse({"detail": f"Redis is unavailable: {exc}"}, status_code=503)

    @app.exception_handler(PyMongoError)
    async def mongodb_unavailable(_request: Request, exc: PyMongoError) -> JSONResponse:
        return JSONResponse({"detail": f"MongoDB is unavailable: {str(exc).split(',')[0]}"}, status_code=503)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui/")

    return app
