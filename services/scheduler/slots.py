"""The schedule: one fetch per feed per slot of its cron, however many schedulers run.

The feeds and their crons come from the feed registry (job_importer/feed_registry.py), read at
every look: at each feed's slot, and at least every SCHEDULE_REFRESH_S. Each (slot, feed) pair is claimed with SET NX in Redis before its run is created, so two
scheduler replicas (or a restarted one) never enqueue the same slot twice. When Redis or MongoDB
is away at a slot, the scheduler keeps its claims and tries the feeds it could not start again
every few seconds, until the next slot is due.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from croniter import croniter
from dramatiq.brokers.redis import RedisBroker
from pymongo.errors import PyMongoError

from job_importer import feed_registry, history
from job_importer.accounting import reconcile_dead_letters
from job_importer.db import Store
from job_importer.keys import Keys
from job_importer.redact import redact
from job_importer.settings import FeedConfig, Settings
from job_importer.stranded import repair_stranded_runs
from job_importer.trigger import start_import

log = logging.getLogger(__name__)

#: Pause between attempts to start a slot's feeds while Redis or MongoDB is away.
SLOT_RETRY_S = 5.0
#: Housekeeping runs at most this often (the registry is read every SCHEDULE_REFRESH_S).
HOUSEKEEPING_EVERY = timedelta(seconds=30)

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def current_slot(cron: str, at: datetime) -> datetime:
    """The latest cron time at or before ``at``."""
    itr = croniter(cron, at + timedelta(seconds=1))
    return itr.get_prev(datetime)


def next_slot(cron: str, at: datetime) -> datetime:
    return croniter(cron, at).get_next(datetime)


#: How long a (slot, feed) claim is kept: far longer than any schedule interval.
CLAIM_TTL = timedelta(days=2)


@dataclass(frozen=True)
class Scheduled:
    """A feed as the scheduler sees it: what to fetch, on which cron, from when."""

    feed: FeedConfig
    cron: str
    guarded: bool = False  # added through the API: its fetches pass the SSRF guard
    active_since: datetime | None = None  # slots before this are not its (see RegisteredFeed)

    def due(self, at: datetime, since: datetime | None, last: datetime | None) -> datetime | None:
        """Its slot to start at ``at``, if any: the latest one, unless it is ``last`` (the one this
        scheduler started last) or older, came before ``since`` (the previous look; None: this is
        the first, which starts the current slot), or came before the feed became active."""
        slot = current_slot(self.cron, at)
        if last is not None and slot <= last:
            return None
        if since is not None and slot <= since:
            return None
        if self.active_since is not None and slot < self.active_since:
            return None
        return slot


def configured(settings: Settings) -> list[Scheduled]:
    """The config's enabled feeds: what is scheduled while the registry cannot be read at all."""
    return [
        Scheduled(spec.feed(), spec.schedule or settings.schedule_cron)
        for spec in settings.feed_specs()
        if spec.enabled
    ]


def registered(settings: Settings, store: Store) -> list[Scheduled]:
    """The registry's enabled feeds (raises when MongoDB is away)."""
    return [
        Scheduled(feed.feed(), feed.cron(settings.schedule_cron), feed.managed_by == "api", feed.active_since)
        for feed in feed_registry.list_feeds(store, enabled=True)
    ]


#: A (slot, feed) pair to start.
Due = tuple[datetime, Scheduled]


def enqueue_slot(
    settings: Settings,
    store: Store,
    broker: RedisBroker,
    slot: datetime,
    feeds: list[Scheduled],
    owner: str | None = None,
) -> list[Scheduled]:
    """Start a run for each feed of this slot that no other scheduler has claimed.

    Returns the feeds this scheduler claimed but could not start (Redis or MongoDB away): the
    claims stay ours, so trying them again later starts each one once. Raises if it cannot claim.
    """
    claimed = [
        entry
        for entry in feeds
        if _claim(broker, Keys(settings.queue_namespace).schedule_claim(slot, entry.feed.url), owner)
    ]
    if not claimed:
        return []
    sent: list[FeedConfig] = []
    guarded = {entry.feed.url for entry in claimed if entry.guarded}
    try:
        started = start_import(
            settings,
            store,
            broker,
            [entry.feed for entry in claimed],
            "schedule",
            guarded=guarded,
            registered={entry.feed.url for entry in claimed},
            sent=sent,
        )
    except Exception as exc:
        log.warning(
            "slot %s: could not start %d of %d run(s) (%s); will try again",
            slot.isoformat(), len(claimed) - len(sent), len(claimed), exc,
        )  # fmt: skip
        started_urls = {feed.url for feed in sent}
        return [entry for entry in claimed if entry.feed.url not in started_urls]
    log.info("slot %s: started %d run(s) in %s", slot.isoformat(), len(claimed), started.batch_id)
    return []


def enqueue_due(
    settings: Settings, store: Store, broker: RedisBroker, due: list[Due], owner: str | None = None
) -> list[Due]:
    """:func:`enqueue_slot` for each slot among ``due``; returns the pairs still to start."""
    by_slot: dict[datetime, list[Scheduled]] = {}
    for slot, entry in due:
        by_slot.setdefault(slot, []).append(entry)
    remaining: list[Due] = []
    for slot, entries in sorted(by_slot.items(), key=lambda pair: pair[0]):
        try:
            left = enqueue_slot(settings, store, broker, slot, entries, owner)
        except Exception as exc:  # the claims themselves failed: Redis is away
            log.warning("slot %s: could not claim its feeds (%s); will try again", slot.isoformat(), exc)
            left = entries
        remaining += [(slot, entry) for entry in left]
    return remaining


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _claim(broker: RedisBroker, key: str, owner: str | None = None) -> bool:
    """Claim a (slot, feed) pair; a claim this scheduler already holds counts as ours."""
    client, owner = broker.client, owner or _owner()
    return bool(client.set(key, owner, nx=True, ex=CLAIM_TTL) or client.get(key) == owner.encode())


_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


def _release_claims(
    settings: Settings, broker: RedisBroker, due: list[Due], owner: str | None = None
) -> None:
    """Give up our claims on feeds we could not start, so a scheduler started after us can (best effort)."""
    try:
        for slot, entry in due:
            broker.client.eval(
                _RELEASE,
                1,
                Keys(settings.queue_namespace).schedule_claim(slot, entry.feed.url),
                owner or _owner(),
            )
    except Exception as exc:
        log.warning("could not release the claims of %d feed(s): %s", len(due), exc)


def start_due(
    settings: Settings,
    store: Store,
    broker: RedisBroker,
    due: list[Due],
    stop: threading.Event,
    clock: Clock = _utcnow,
    owner: str | None = None,
) -> None:
    """Start these (slot, feed) pairs, trying again while Redis or MongoDB is away, each until
    its feed's next slot is due."""
    remaining = due
    while True:
        remaining = enqueue_due(settings, store, broker, remaining, owner)
        at = clock()
        expired = [(slot, entry) for slot, entry in remaining if at >= next_slot(entry.cron, slot)]
        for slot, entry in expired:
            log.error(
                "slot %s: gave up on %s when its next slot came", slot.isoformat(), redact(entry.feed.url)
            )
        remaining = [pair for pair in remaining if pair not in expired]
        if not remaining:
            return
        if stop.wait(SLOT_RETRY_S):
            _release_claims(settings, broker, remaining, owner)
            return


class Schedule:
    """Which feeds are due when: the registry read at every look, each feed on its own cron.

    ``look(at)`` starts the slot of every enabled feed that came since the previous look (the
    first look starts each feed's current slot: claims make that harmless). Feeds added, changed,
    disabled or removed take effect at the next look; while the registry cannot be read, the
    feeds of the last look are scheduled (at first: the config's).
    """

    def __init__(self, settings: Settings, store: Store, broker: RedisBroker, clock: Clock = _utcnow) -> None:
        self.settings, self.store, self.broker, self.clock = settings, store, broker, clock
        self.since: datetime | None = None
        # The slot each feed was last started for: a look just before a slot boundary takes the
        # coming slot (current_slot counts a second ahead), and the next look must not take it again.
        self.started: dict[str, datetime] = {}
        self.feeds: list[Scheduled] = configured(settings)
        self.synced = False
        self.owner = f"{_owner()}:{secrets.token_hex(4)}"  # whose claims these are

    def refresh(self) -> list[Scheduled]:
        """Bring the config into the registry (until that worked once), then read it."""
        try:
            if not self.synced:
                feed_registry.sync_config(self.store, self.settings.feed_specs())
                self.synced = True
            self.feeds = registered(self.settings, self.store)
        except PyMongoError as exc:
            log.warning(
                "could not read the feed registry (%s); scheduling the %d feed(s) known", exc, len(self.feeds)
            )
        return self.feeds

    def due(self, at: datetime) -> list[Due]:
        """The (slot, feed) pairs that came since the previous look, which this look moves past."""
        feeds = self.refresh()
        due = [
            (slot, entry)
            for entry in feeds
            if (slot := entry.due(at, self.since, self.started.get(entry.feed.url))) is not None
        ]
        self.since = at
        known = {entry.feed.url for entry in feeds}
        self.started = {url: slot for url, slot in self.started.items() if url in known}
        self.started.update((entry.feed.url, slot) for slot, entry in due)
        return due

    def look(self, stop: threading.Event) -> None:
        due = self.due(self.clock())
        if due:
            start_due(self.settings, self.store, self.broker, due, stop, self.clock, self.owner)

    def next_look(self, at: datetime) -> datetime:
        """The next slot of any feed known, but at most SCHEDULE_REFRESH_S away (to see registry changes)."""
        soonest = at + timedelta(seconds=self.settings.schedule_refresh_s)
        for entry in self.feeds:
            soonest = min(soonest, next_slot(entry.cron, at))
        return soonest


def run_scheduler(
    settings: Settings,
    store: Store,
    broker: RedisBroker,
    *,
    once: bool = False,
    stop: threading.Event | None = None,
    clock: Clock = _utcnow,
) -> None:
    """Start every feed's current slot now (claims make that harmless), then each slot as it comes."""
    stop = stop or threading.Event()
    schedule = Schedule(settings, store, broker, clock)
    last_housekeeping = None
    while True:
        schedule.look(stop)
        if once:
            _housekeeping(settings, store, broker)
            return
        at = clock()
        if last_housekeeping is None or at - last_housekeeping >= HOUSEKEEPING_EVERY:
            _housekeeping(settings, store, broker)
            last_housekeeping = at
        wait = (schedule.next_look(clock()) - clock()).total_seconds()
        if stop.wait(max(wait, 0.0)):
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
