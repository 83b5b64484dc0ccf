"""The schedule read from the feed registry: each feed on its own cron, registry changes taking
effect at the next slot. A controllable clock stands in for time; Redis and MongoDB are real."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

from job_importer import feed_registry
from job_importer.settings import FeedSpec, Settings
from services.scheduler.slots import Schedule, current_slot

HOURLY = "http://127.0.0.1:9/hourly.xml"
QUARTER = "http://127.0.0.1:9/quarter.xml"
ADDED = "http://127.0.0.1:9/added.xml"


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def _start() -> datetime:
    """An hour's start after now: registry changes made now come before every slot of the test."""
    return current_slot("0 * * * *", datetime.now(UTC)) + timedelta(hours=1)


def runs_by_feed(store) -> Counter[str]:
    return Counter(run["feed_url"] for run in store.runs.find({}, {"feed_url": 1}))


def look_at(schedule: Schedule, clock: Clock, at: datetime) -> None:
    clock.at = at
    schedule.look(threading.Event())


def test_each_feed_fires_on_its_own_slots_once_across_schedulers(
    settings: Settings, store, broker, redis_client
) -> None:
    config = settings.model_copy(update={"feeds": [HOURLY]})
    feed_registry.add_feed(store, FeedSpec(url=QUARTER, schedule="*/15 * * * *"))
    start = _start()
    clock = Clock(start)
    schedulers = [Schedule(config, store, broker, clock) for _ in range(2)]
    for minutes in (0, 15, 30, 45, 60):  # the first look starts both feeds' current slots
        for schedule in schedulers:  # a replica looking at the same slot claims nothing
            look_at(schedule, clock, start + timedelta(minutes=minutes, seconds=1))
    assert runs_by_feed(store) == {HOURLY: 2, QUARTER: 5}
    assert redis_client.llen(f"{config.queue_namespace}:{config.fetch_queue}") == 7
    # An API feed's fetches go through the SSRF guard; a config feed's do not.
    messages = [
        json.loads(raw) for raw in redis_client.hvals(f"{config.queue_namespace}:{config.fetch_queue}.msgs")
    ]
    guarded = Counter(message["args"][1]["url"] for message in messages if message["kwargs"].get("guarded"))
    assert guarded == {QUARTER: 5}


def test_registry_changes_take_effect_at_the_next_slot(settings: Settings, store, broker) -> None:
    config = settings.model_copy(update={"feeds": [HOURLY]})
    quarter = feed_registry.add_feed(store, FeedSpec(url=QUARTER, schedule="*/15 * * * *"))
    start = _start()
    clock = Clock(start)
    schedule = Schedule(config, store, broker, clock)
    look_at(schedule, clock, start + timedelta(seconds=1))
    assert runs_by_feed(store) == {HOURLY: 1, QUARTER: 1}

    # Added between slots: fetched at the next slot of its own cron, not before.
    feed_registry.add_feed(store, FeedSpec(url=ADDED, schedule="*/30 * * * *"))
    look_at(schedule, clock, start + timedelta(minutes=10))
    assert runs_by_feed(store) == {HOURLY: 1, QUARTER: 1}
    look_at(schedule, clock, start + timedelta(minutes=15))
    assert runs_by_feed(store) == {HOURLY: 1, QUARTER: 2}
    look_at(schedule, clock, start + timedelta(minutes=30))
    assert runs_by_feed(store) == {HOURLY: 1, QUARTER: 3, ADDED: 1}

    # Changed to hourly, disabled, removed: none of them fetched at 10:45; the hourly ones at 11:00.
    feed_registry.update_feed(store, quarter.id, {"schedule": "0 * * * *"})
    feed_registry.set_enabled(store, HOURLY, False)  # a config feed may be disabled
    feed_registry.remove_feed(store, ADDED)
    look_at(schedule, clock, start + timedelta(minutes=45))
    look_at(schedule, clock, start + timedelta(minutes=60))
    assert runs_by_feed(store) == {HOURLY: 1, QUARTER: 4, ADDED: 1}

    # Enabled again: from its next slot on.
    feed_registry.set_enabled(store, HOURLY, True)
    look_at(schedule, clock, start + timedelta(minutes=61))
    assert runs_by_feed(store)[HOURLY] == 1
    look_at(schedule, clock, start + timedelta(minutes=120))
    assert runs_by_feed(store) == {HOURLY: 2, QUARTER: 5, ADDED: 1}


def test_config_managed_feeds_follow_the_config_when_a_scheduler_starts(
    settings: Settings, store, broker
) -> None:
    start = _start()
    clock = Clock(start)
    first = settings.model_copy(update={"feeds": [HOURLY, QUARTER]})
    look_at(Schedule(first, store, broker, clock), clock, start)
    assert runs_by_feed(store) == {HOURLY: 1, QUARTER: 1}
    second = settings.model_copy(update={"feeds": [HOURLY]})  # a new deploy without QUARTER
    look_at(Schedule(second, store, broker, clock), clock, start + timedelta(hours=1))
    assert runs_by_feed(store) == {HOURLY: 2, QUARTER: 1}
    assert [feed.url for feed in feed_registry.list_feeds(store)] == [HOURLY]


def test_a_look_just_before_a_slot_and_one_at_it_start_the_slot_once(
    settings: Settings, store, broker
) -> None:
    # current_slot counts a second ahead (a look woken a little early still takes its slot), so
    # the look just before the boundary takes the coming slot; the one at the boundary must not.
    start = _start()
    clock = Clock(start - timedelta(milliseconds=500))
    schedule = Schedule(
        settings.model_copy(update={"feeds": [QUARTER], "schedule_cron": "*/15 * * * *"}),
        store,
        broker,
        clock,
    )
    schedule.look(threading.Event())
    look_at(schedule, clock, start)
    look_at(schedule, clock, start + timedelta(minutes=14, seconds=59, milliseconds=500))  # the next, early
    look_at(schedule, clock, start + timedelta(minutes=15))
    assert runs_by_feed(store) == {QUARTER: 2}
