"""The schedule: one fetch per feed per cron slot, however many schedulers run.

Each (slot, feed) pair is claimed with SET NX in Redis before its run is created, so two
scheduler replicas (or a restarted one) never enqueue the same slot twice. When Redis or MongoDB
is away at a slot, the scheduler keeps its claims and tries the feeds it could not start again
every few seconds, until the next slot is due.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import UTC, datetime, timedelta

from croniter import croniter
from dramatiq.brokers.redis import RedisBroker

from job_importer import history
from job_importer.accounting import reconcile_dead_letters
from job_importer.db import Store
from job_importer.keys import Keys
from job_importer.settings import FeedConfig, Settings
from job_importer.stranded import repair_stranded_runs
from job_importer.trigger import start_import

log = logging.getLogger(__name__)

#: Pause between attempts to start a slot's feeds while Redis or MongoDB is away.
SLOT_RETRY_S = 5.0


def current_slot(cron: str, at: datetime) -> datetime:
    """The latest cron time at or before ``at``."""
    itr = croniter(cron, at + timedelta(seconds=1))
    return itr.get_prev(datetime)


def next_slot(cron: str, at: datetime) -> datetime:
    return croniter(cron, at).get_next(datetime)


#: How long a (slot, feed) claim is kept: far longer than any schedule interval.
CLAIM_TTL = timedelta(days=2)


def enqueue_slot(
    settings: Settings, store: Store, broker: RedisBroker, slot: datetime, feeds: list[FeedConfig]
) -> list[FeedConfig]:
    """Start a run for each feed of this slot that no other scheduler has claimed.

    Returns the feeds this scheduler claimed but could not start (Redis or MongoDB away): the
    claims stay ours, so trying them again later starts each one once. Raises if it cannot claim.
    """
    claimed = [
        feed
        for feed in feeds
        if _claim(broker, Keys(settings.queue_namespace).schedule_claim(slot, feed.url))
    ]
    if not claimed:
        return []
    sent: list[FeedConfig] = []
    try:
        started = start_import(settings, store, broker, claimed, "schedule", sent=sent)
    except Exception as exc:
        log.warning(
            "slot %s: could not start %d of %d run(s) (%s); will try again",
            slot.isoformat(), len(claimed) - len(sent), len(claimed), exc,
        )  # fmt: skip
        started_urls = {feed.url for feed in sent}
        return [feed for feed in claimed if feed.url not in started_urls]
    log.info("slot %s: started %d run(s) in %s", slot.isoformat(), len(claimed), started.batch_id)
    return []


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _claim(broker: RedisBroker, key: str) -> bool:
    """Claim a (slot, feed) pair; a claim this scheduler already holds counts as ours."""
    client, owner = broker.client, _owner()
    return bool(client.set(key, owner, nx=True, ex=CLAIM_TTL) or client.get(key) == owner.encode())


_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


def _release_claims(settings: Settings, broker: RedisBroker, slot: datetime, feeds: list[FeedConfig]) -> None:
    """Give up our claims on feeds we could not start, so a scheduler started after us can (best effort)."""
    try:
        for feed in feeds:
            broker.client.eval(
                _RELEASE, 1, Keys(settings.queue_namespace).schedule_claim(slot, feed.url), _owner()
            )
    except Exception as exc:
        log.warning(
            "slot %s: could not release the claims of %d feed(s): %s", slot.isoformat(), len(feeds), exc
        )


def start_slot(
    settings: Settings,
    store: Store,
    broker: RedisBroker,
    slot: datetime,
    feeds: list[FeedConfig],
    stop: threading.Event,
) -> None:
    """Enqueue a slot, trying again while Redis or MongoDB is away, until the next slot is due."""
    due = next_slot(settings.schedule_cron, slot)
    remaining = feeds
    while True:
        try:
            remaining = enqueue_slot(settings, store, broker, slot, remaining)
        except Exception as exc:  # the claims themselves failed: Redis is away
            log.warning("slot %s: could not claim its feeds (%s); will try again", slot.isoformat(), exc)
        if not remaining:
            return
        if datetime.now(UTC) >= due:
            log.error(
                "slot %s: gave up on %d feed(s) when the next slot came", slot.isoformat(), len(remaining)
            )
            return
        if stop.wait(SLOT_RETRY_S):
            _release_claims(settings, broker, slot, remaining)
            return


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
        start_slot(settings, store, broker, slot, feeds, stop)
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
    """Account for dead-lettered messages, repair runs whose messages Redis lost, trim old history;
    never fatal to the schedule."""
    try:
        reconcile_dead_letters(settings, store, broker)
        repair_stranded_runs(settings, store, broker.client)
        history.cleanup(store, timedelta(days=settings.history_retention_days))
    except Exception:
        log.exception("housekeeping failed; will try again")
