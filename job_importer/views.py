"""The public shape of stored records and live state, shared by the API and the CLI.

MongoDB keys a run by ``_id`` and keeps bookkeeping (``chunks_done``, ...) beside the counts; what
users read says ``run_id`` and leaves the bookkeeping out. Both front ends take their shapes from
here, so ``job-importer runs --json`` and ``GET /imports`` never drift apart
(``tests/cli/test_json_shapes.py`` holds them to the API's models).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import redis

from job_importer import history
from job_importer.control import worker_states
from job_importer.queues import queue_stats
from job_importer.redact import redact
from job_importer.resend import resendable
from job_importer.settings import Settings

if TYPE_CHECKING:
    from job_importer.feed_registry import RegisteredFeed

#: The fields of a run as the API's ``Run`` model and ``runs --json`` show them, in order.
RUN_FIELDS = (
    "run_id", "batch_id", "feed_url", "source", "trigger", "status", "created_at", "started_at",
    "finished_at", "duration_ms", "http_status", "not_modified", "partial", "error", "warning", "fetched", "new",
    "updated", "unchanged", "duplicates", "failed", "expired", "reactivated", "active_listings", "chunks_total",
    "chunks_accounted",
)  # fmt: skip

#: How much of a failed item's payload a listing shows.
PAYLOAD_EXCERPT_CHARS = 500

_COUNTS = (*history.RUN_COUNTS, "chunks_accounted")
#: What a run that predates a field shows for it.
_RUN_DEFAULTS: dict[str, Any] = {"not_modified": False, "partial": False, **dict.fromkeys(_COUNTS, 0)}


def public_run(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A run record as users read it: ``run_id``, the counts, no internal bookkeeping."""
    fields = {**doc, "run_id": doc["_id"]}
    return {name: fields.get(name, _RUN_DEFAULTS.get(name)) for name in RUN_FIELDS}


def public_failed_item(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A failed-item record as users read it: ``id``, whether it can be sent again, an excerpt."""
    payload = doc.get("payload")
    excerpt = (
        json.dumps(payload, ensure_ascii=False, default=str)[:PAYLOAD_EXCERPT_CHARS]
        if payload is not None
        else None
    )
    return {
        "id": doc["_id"],
        "run_id": doc.get("run_id"),
        "feed_url": doc.get("feed_url", ""),
        "guid": doc.get("guid"),
        "reason": doc.get("reason", ""),
        "stage": doc.get("stage") or "fetch",
        "raw": doc.get("raw", ""),
        "created_at": doc.get("created_at"),
        "resendable": resendable(dict(doc)),
        "payload_excerpt": excerpt,
    }


def queue_overview(client: redis.Redis, settings: Settings) -> list[dict[str, Any]]:
    """Per queue: its message counts and pause state, and the live workers consuming it."""
    rows = []
    for stat in queue_stats(client, settings):
        states = worker_states(client, settings.queue_namespace, stat.queue)
        rows.append({**stat.as_dict(), "workers": len(states), "workers_paused": states.count("paused")})
    return rows


def public_feed(feed: RegisteredFeed, default_cron: str, at: datetime) -> dict[str, Any]:
    """A registered feed as users read it (``GET /feeds``, ``feeds list --json``): its URL
    redacted, its next fetch (from ``at``) beside its health."""
    shown = feed.model_dump(exclude={"active_since"})
    shown["url"] = redact(feed.url)
    shown["health"]["next_fetch"] = feed.next_fetch(default_cron, at)
    return shown
