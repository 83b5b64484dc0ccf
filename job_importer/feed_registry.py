"""The feed registry: every feed the scheduler fetches, its schedule, and how its runs went.

One document per feed in the ``feeds`` collection, keyed by a generated id, unique by URL (a URL
is what runs, listings and validators know a feed by). Each is managed by one side:

* ``config``: the feeds of FEEDS / FEEDS_FILE / the chart's ``feeds:``. :func:`sync_config` (on
  start of the scheduler and of the API) makes the registry follow the config: feeds added there
  are added, changed ones changed, and ones no longer there are deleted (their runs and listings
  stay). The API may enable or disable them, nothing else; that choice holds until the config's
  own ``enabled`` for the feed changes.
* ``api``: feeds added at run time (API, CLI). The config never touches them.

Health (``health``) is written by the end of each run (:func:`record_run_end`, from
:mod:`job_importer.history`); the next scheduled fetch is computed when read, from the schedule.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from croniter import croniter
from pydantic import BaseModel, Field
from pymongo.errors import DuplicateKeyError, PyMongoError

from job_importer.db import Store
from job_importer.redact import redact
from job_importer.settings import FeedSpec

log = logging.getLogger(__name__)

ManagedBy = Literal["config", "api"]
#: The fields of a feed that its spec sets (what config and the API give).
SPEC_FIELDS = tuple(FeedSpec.model_fields)


class LastRun(BaseModel):
    id: str
    status: Literal["completed", "failed"]
    at: datetime


class FeedHealth(BaseModel):
    """How the feed's runs went, as the last one to end left it."""

    last_run: LastRun | None = None
    last_success_at: datetime | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    active_listings: int | None = Field(None, description="As counted when its last run completed")


class RegisteredFeed(FeedSpec):
    """A feed of the registry."""

    id: str
    managed_by: ManagedBy
    created_at: datetime
    updated_at: datetime
    # Slots before this are not fetched (set when the API adds, re-enables or reschedules a feed,
    # so that its first fetch is at the next slot; None for config feeds: their current slot runs).
    active_since: datetime | None = None
    health: FeedHealth = FeedHealth()

    def cron(self, default: str) -> str:
        return self.schedule or default

    def next_fetch(self, default_cron: str, at: datetime) -> datetime | None:
        """When the scheduler fetches it next (None while it is disabled)."""
        if not self.enabled:
            return None
        nxt: datetime = croniter(self.cron(default_cron), at).get_next(datetime)
        return nxt


class RegistryError(Exception):
    """A registry change that cannot be made; the message says why."""


class FeedNotFound(RegistryError):
    pass


class FeedExists(RegistryError):
    pass


class ConfigManaged(RegistryError):
    """Only the config changes a config-managed feed (the API may enable or disable it)."""


def _now() -> datetime:
    """Now, to the millisecond: what MongoDB keeps of a date."""
    at = datetime.now(UTC)
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def _from_doc(doc: Mapping[str, Any]) -> RegisteredFeed:
    return RegisteredFeed.model_validate({**doc, "id": doc["_id"]})


def _spec_fields(spec: FeedSpec) -> dict[str, Any]:
    return {**spec.model_dump(include=set(SPEC_FIELDS)), "feed_url": redact(spec.url)}


def list_feeds(
    store: Store, *, enabled: bool | None = None, urls: Iterable[str] | None = None
) -> list[RegisteredFeed]:
    """Every feed, by source then URL; only enabled (or disabled) ones, or these URLs, if asked."""
    query: dict[str, Any] = {} if enabled is None else {"enabled": enabled}
    if urls is not None:
        query["url"] = {"$in": list(urls)}
    return [_from_doc(doc) for doc in store.feeds.find(query).sort([("source", 1), ("url", 1)])]


def get_feed(store: Store, key: str) -> RegisteredFeed:
    """A feed by its id, its URL or its redacted URL (what the API shows)."""
    doc = store.feeds.find_one({"$or": [{"_id": key}, {"url": key}, {"feed_url": key}]})
    if doc is None:
        raise FeedNotFound(f"no feed {redact(key)!r} in the registry")
    return _from_doc(doc)


def add_feed(store: Store, spec: FeedSpec, managed_by: ManagedBy = "api") -> RegisteredFeed:
    """Register a feed; FeedExists when its URL is registered already."""
    at = _now()
    doc = {
        "_id": f"feed-{secrets.token_hex(6)}",
        **_spec_fields(spec),
        "managed_by": managed_by,
        "config_enabled": spec.enabled if managed_by == "config" else None,
        "created_at": at,
        "updated_at": at,
        "active_since": at if managed_by == "api" else None,
        "health": FeedHealth().model_dump(),
    }
    try:
        store.feeds.insert_one(doc)
    except DuplicateKeyError:
        raise FeedExists(f"feed {redact(spec.url)!r} is registered already") from None
    return _from_doc(doc)


def update_feed(store: Store, key: str, changes: Mapping[str, Any]) -> RegisteredFeed:
    """Change an API-managed feed's spec fields (validated as a whole); ConfigManaged for a
    config feed, FeedExists when a new URL is another feed's."""
    feed = get_feed(store, key)
    if feed.managed_by == "config":
        raise ConfigManaged(
            f"feed {redact(feed.url)!r} is managed by the config (FEEDS, FEEDS_FILE, the chart's feeds:): "
            "change it there; the API may only enable or disable it"
        )
    current = feed.model_dump(include=set(SPEC_FIELDS))
    if "url" in changes and "source" not in changes and feed.source == FeedSpec(url=feed.url).source:
        current["source"] = ""  # a derived source follows the URL
    spec = FeedSpec.model_validate({**current, **changes})
    fields = _spec_fields(spec)
    if fields["schedule"] != feed.schedule or (spec.enabled and not feed.enabled):
        fields["active_since"] = _now()
    try:
        store.feeds.update_one({"_id": feed.id}, {"$set": {**fields, "updated_at": _now()}})
    except DuplicateKeyError:
        raise FeedExists(f"feed {redact(spec.url)!r} is registered already") from None
    return get_feed(store, feed.id)


def set_enabled(store: Store, key: str, enabled: bool) -> RegisteredFeed:
    """Enable or disable a feed, whoever manages it; a re-enabled feed is fetched from its next slot."""
    feed = get_feed(store, key)
    if feed.enabled != enabled:
        fields: dict[str, Any] = {"enabled": enabled, "updated_at": _now()}
        if enabled:
            fields["active_since"] = _now()
        store.feeds.update_one({"_id": feed.id}, {"$set": fields})
    return get_feed(store, feed.id)


def remove_feed(store: Store, key: str) -> RegisteredFeed:
    """Delete an API-managed feed from the registry (its runs and listings stay)."""
    feed = get_feed(store, key)
    if feed.managed_by == "config":
        raise ConfigManaged(
            f"feed {redact(feed.url)!r} is managed by the config: remove it there, or disable it"
        )
    store.feeds.delete_one({"_id": feed.id, "managed_by": "api"})
    return feed


@dataclass
class Synced:
    """What :func:`sync_config` did, by redacted URL."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # registered through the API: left alone


def sync_config(store: Store, specs: Iterable[FeedSpec]) -> Synced:
    """Make the config-managed feeds those of the config; safe to run from several processes."""
    done = Synced()
    wanted = {spec.url: spec for spec in specs}
    existing = {doc["url"]: doc for doc in store.feeds.find({"url": {"$in": list(wanted)}})}
    for url, spec in wanted.items():
        doc = existing.get(url)
        if doc is None:
            try:
                add_feed(store, spec, "config")
                done.added.append(redact(url))
            except FeedExists:  # another process added it just now
                pass
            continue
        if doc.get("managed_by") != "config":
            done.skipped.append(redact(url))
            continue
        fields = {name: value for name, value in _spec_fields(spec).items() if name != "enabled"}
        changes = {name: value for name, value in fields.items() if doc.get(name) != value}
        if spec.enabled != doc.get("config_enabled"):  # the config's own say changed: it wins
            changes |= {"enabled": spec.enabled, "config_enabled": spec.enabled}
        if changes:
            store.feeds.update_one({"_id": doc["_id"]}, {"$set": {**changes, "updated_at": _now()}})
            done.changed.append(redact(url))
    gone = {"managed_by": "config", "url": {"$nin": list(wanted)}}
    done.removed = [doc["feed_url"] for doc in store.feeds.find(gone, {"feed_url": 1})]
    store.feeds.delete_many(gone)
    if done.skipped:
        log.warning(
            "config feeds registered through the API already, left as they are: %s", ", ".join(done.skipped)
        )
    if done.added or done.changed or done.removed:
        log.info(
            "feed registry follows the config: %d added, %d changed, %d removed",
            len(done.added), len(done.changed), len(done.removed),
        )  # fmt: skip
    return done


def record_run_end(
    store: Store,
    run: Mapping[str, Any],
    status: Literal["completed", "failed"],
    at: datetime,
    *,
    error: str | None = None,
    active_listings: int | None = None,
) -> None:
    """The health of the run's feed, after the run ended (feeds not in the registry: nothing).

    A run that ended before the last one recorded (they may overlap) changes nothing. Never
    raises: the run has ended whatever its feed's health says.
    """
    last_run = {"id": run["_id"], "status": status, "at": at}
    update: dict[str, Any]
    if status == "completed":
        update = {
            "$set": {
                "health.last_run": last_run,
                "health.last_success_at": at,
                "health.consecutive_failures": 0,
                "health.last_error": None,
                "health.active_listings": active_listings,
            }
        }
    else:
        update = {
            "$set": {"health.last_run": last_run, "health.last_error": error},
            "$inc": {"health.consecutive_failures": 1},
        }
    try:
        store.feeds.update_many(
            {"feed_url": run.get("feed_url"), "health.last_run.at": {"$not": {"$gt": at}}}, update
        )
    except PyMongoError as exc:
        log.warning("could not record run %s in its feed's health: %s", run["_id"], exc)
