"""The schedule: one fetch per feed per cron slot, however many schedulers run.

Each (slot, feed) pair is claimed with SET NX in Redis before its run is created, so two
scheduler replicas (or a restarted one) never enqueue the same slot twice.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
from datetime import UTC, datetime, timedelta

from croniter import croniter
from dramatiq.brokers.redis import RedisBroker

from job_importer import history
from job_importer.db import Store
from job_importer.deadletters import reconcile_dead_letters
from job_importer.settings import FeedConfig, Settings

from .trigger import Started, start_import

log = logging.getLogger(__name__)


def current_slot(cron: str, at: datetime) -> datetime:
    """The latest cron time at or before ``at``."""
    itr = croniter(cron, at + timedelta(seconds=1))
    return itr.get_prev(datetime)


def next_slot(cron: str, at: datetime) -> datetime:
    return croniter(cron, at).get_next(datetime)


def claim_key(namespace: str, slot: datetime, feed_url: str) -> str:
    digest = hashlib.sha256(feed_url.encode()).hexdigest()[:16]
    # To the second: croniter takes a sixth (seconds) field, and such slots must not share a claim.
    return f"{namespace}:__schedule__:{slot:%Y%m%dT%H%M%S}:{digest}"


def enqueue_slot(
    settings: Settings, store: Store, broker: RedisBroker, slot: datetime, feeds: list[FeedConfig]
) -> Started | None:
    """Start a run for each feed of this slot that no other scheduler has claimed."""
    owner = f"{socket.gethostname()}:{os.getpid()}"
    ttl = timedelta(days=2)
    claimed = [
        feed
        for feed in feeds
        if broker.client.set(claim_key(settings.queue_namespace, slot, feed.url), owner, nx=True, ex=ttl)
    ]
    if not claimed:
        return None
    started = start_import(settings, store, broker, claimed, "schedule")
    log.info("slot %s: started %d run(s) in %s", slot.isoformat(), len(claimed), started.batch_id)
    return started


def run_scheduler(
    settings: Settings,
    store: Store,
    broker: RedisBroker,
    *,
    once: bool = False,
    stop: threading.Event | None = None,
) -> None:
    """Enqueue the current slot now (claims make that harmless), then every slot as it comes."""
    stop = stop or threading.Event()
    feeds = settings.feed_configs()
    slot = current_slot(settings.schedule_cron, datetime.now(UTC))
    while True:
        enqueue_slot(settings, store, broker, slot, feeds)
        _housekeeping(settings, store, broker)
        if once:
            return
        slot = next_slot(settings.schedule_cron, slot)
        while not stop.is_set():
            remaining = (slot - datetime.now(UTC)).total_seconds()
            if remaining <= 0:
                break
            if stop.wait(min(remaining, 30.0)):
                return
            _housekeeping(settings, store, broker)
        if stop.is_set():
            return


def _housekeeping(settings: Settings, store: Store, broker: RedisBroker) -> None:
    """Account for dead-lettered messages and trim old history; never fatal to the schedule."""
    try:
        reconcile_dead_letters(settings, store, broker)
        history.cleanup(store, timedelta(days=settings.history_retention_days))
    except Exception:
        log.exception("housekeeping failed; will try again")
