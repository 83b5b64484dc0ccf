"""The feed registry's store functions, against the MongoDB stand-in (or MONGODB_URL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from job_importer import feed_registry, history
from job_importer.db import Store
from job_importer.feed_secrets import MissingSecret, resolve_headers
from job_importer.settings import FeedSpec

URL = "http://127.0.0.1:9/jobs.xml"


def test_a_feed_is_added_found_by_id_or_url_and_unique_by_url(store: Store) -> None:
    feed = feed_registry.add_feed(store, FeedSpec(url=URL, category="it", schedule="*/15 * * * *"))
    assert feed.managed_by == "api" and feed.enabled and feed.source == "127.0.0.1"
    assert feed.id.startswith("feed-")
    assert feed_registry.get_feed(store, feed.id) == feed == feed_registry.get_feed(store, URL)
    with pytest.raises(feed_registry.FeedExists):
        feed_registry.add_feed(store, FeedSpec(url=URL))
    with pytest.raises(feed_registry.FeedNotFound):
        feed_registry.get_feed(store, "feed-nothing")
    assert [f.url for f in feed_registry.list_feeds(store)] == [URL]


def test_feeds_are_listed_by_url_when_asked(store: Store) -> None:
    other = "http://127.0.0.1:9/other.xml"
    for url in (URL, other):
        feed_registry.add_feed(store, FeedSpec(url=url))
    assert [f.url for f in feed_registry.list_feeds(store, urls=[other, "http://127.0.0.1:9/no"])] == [other]
    assert feed_registry.list_feeds(store, urls=[]) == []
    assert len(feed_registry.list_feeds(store)) == 2


def test_credentials_in_a_url_are_stored_but_its_runs_find_it_by_the_redacted_one(store: Store) -> None:
    feed = feed_registry.add_feed(store, FeedSpec(url="http://user:pw@127.0.0.1:9/x.xml"))
    assert feed_registry.get_feed(store, "http://***@127.0.0.1:9/x.xml").id == feed.id


def test_an_update_is_validated_whole_and_a_derived_source_follows_the_url(store: Store) -> None:
    feed = feed_registry.add_feed(store, FeedSpec(url=URL))
    changed = feed_registry.update_feed(store, feed.id, {"url": "http://localhost:9/a.xml", "format": "rss"})
    assert (changed.url, changed.source, changed.format) == ("http://localhost:9/a.xml", "localhost", "rss")
    with pytest.raises(ValidationError):
        feed_registry.update_feed(store, feed.id, {"schedule": "every hour"})
    with pytest.raises(ValidationError):
        feed_registry.update_feed(store, feed.id, {"headers": {"Authorization": "Bearer abc def"}})
    assert feed_registry.get_feed(store, feed.id).schedule is None  # nothing of a refused change stays
    other = feed_registry.add_feed(store, FeedSpec(url=URL))
    with pytest.raises(feed_registry.FeedExists):
        feed_registry.update_feed(store, other.id, {"url": "http://localhost:9/a.xml"})


def test_a_rescheduled_or_reenabled_feed_starts_from_then(store: Store) -> None:
    feed = feed_registry.add_feed(store, FeedSpec(url=URL))
    assert feed.active_since is not None
    disabled = feed_registry.set_enabled(store, feed.id, False)
    assert not disabled.enabled and disabled.next_fetch("0 * * * *", datetime.now(UTC)) is None
    enabled = feed_registry.set_enabled(store, feed.id, True)
    assert enabled.active_since is not None and enabled.active_since > feed.active_since
    at = datetime(2026, 11, 28, 10, 5, tzinfo=UTC)
    assert enabled.next_fetch("0 * * * *", at) == datetime(2026, 11, 28, 11, 0, tzinfo=UTC)
    rescheduled = feed_registry.update_feed(store, feed.id, {"schedule": "*/10 * * * *"})
    assert rescheduled.next_fetch("0 * * * *", at) == datetime(2026, 11, 28, 10, 10, tzinfo=UTC)


def test_config_sync_adds_changes_removes_and_leaves_api_feeds_alone(store: Store) -> None:
    api = feed_registry.add_feed(store, FeedSpec(url="http://127.0.0.1:9/api.xml"))
    first = [FeedSpec(url="http://127.0.0.1:9/a.xml"), FeedSpec(url="http://127.0.0.1:9/b.xml")]
    done = feed_registry.sync_config(store, [*first, FeedSpec(url=api.url, category="x")])
    assert sorted(done.added) == sorted(spec.url for spec in first) and done.skipped == [api.url]
    assert feed_registry.get_feed(store, api.url).category is None  # never touched
    assert feed_registry.sync_config(store, first).added == []  # nothing to do the second time

    second = [FeedSpec(url="http://127.0.0.1:9/a.xml", category="ops", schedule="*/5 * * * *")]
    done = feed_registry.sync_config(store, second)
    assert (done.changed, done.removed) == (["http://127.0.0.1:9/a.xml"], ["http://127.0.0.1:9/b.xml"])
    feeds = {feed.url: feed for feed in feed_registry.list_feeds(store)}
    assert sorted(feeds) == ["http://127.0.0.1:9/a.xml", api.url]
    assert (feeds["http://127.0.0.1:9/a.xml"].category, feeds["http://127.0.0.1:9/a.xml"].schedule) == (
        "ops",
        "*/5 * * * *",
    )


def test_config_feeds_may_be_toggled_not_changed_and_the_config_enabled_wins_when_it_changes(
    store: Store,
) -> None:
    feed_registry.sync_config(store, [FeedSpec(url=URL)])
    with pytest.raises(feed_registry.ConfigManaged):
        feed_registry.update_feed(store, URL, {"category": "x"})
    with pytest.raises(feed_registry.ConfigManaged):
        feed_registry.remove_feed(store, URL)
    feed_registry.set_enabled(store, URL, False)
    feed_registry.sync_config(store, [FeedSpec(url=URL)])  # a restart with the same config
    assert not feed_registry.get_feed(store, URL).enabled
    feed_registry.sync_config(store, [FeedSpec(url=URL, enabled=False)])
    feed_registry.sync_config(store, [FeedSpec(url=URL, enabled=True)])  # the config says so now
    assert feed_registry.get_feed(store, URL).enabled


def _run(store: Store, url: str) -> str:
    return history.create_runs(store, [FeedSpec(url=url).feed()], "cli", "batch-test")[0]


def test_runs_ending_keep_the_feed_health(store: Store) -> None:
    feed = feed_registry.add_feed(store, FeedSpec(url=URL))
    for _ in range(2):
        history.fail_run(store, _run(store, URL), "connection failed: refused")
    health = feed_registry.get_feed(store, feed.id).health
    assert (health.consecutive_failures, health.last_error) == (2, "connection failed: refused")
    assert health.last_run is not None and health.last_run.status == "failed"
    assert health.last_success_at is None

    run_id = _run(store, URL)
    history.start_fetch(store, run_id)
    history.finish_fetch(
        store, run_id, http_status=200, fetched=0, duplicates=0, failures=[], chunks_total=0, failures_cap=10
    )
    health = feed_registry.get_feed(store, feed.id).health
    assert health.last_run is not None and (health.last_run.id, health.last_run.status) == (
        run_id,
        "completed",
    )
    assert (health.consecutive_failures, health.last_error, health.active_listings) == (0, None, 0)
    assert health.last_success_at == health.last_run.at

    history.fail_run(store, _run(store, "http://127.0.0.1:9/not-registered.xml"), "nope")  # no feed: nothing
    stale = {"_id": "older", "feed_url": URL}
    feed_registry.record_run_end(
        store, stale, "failed", health.last_run.at - timedelta(seconds=1), error="old"
    )
    assert feed_registry.get_feed(store, feed.id).health == health  # an older run's end changes nothing


def test_api_feeds_can_be_removed(store: Store) -> None:
    feed = feed_registry.add_feed(store, FeedSpec(url=URL))
    assert feed_registry.remove_feed(store, feed.id).id == feed.id
    assert feed_registry.list_feeds(store) == []


def test_header_values_come_from_a_secret_file_or_the_environment(tmp_path: Path) -> None:
    (tmp_path / "greenhouse-token").write_text("Basic abc\n")
    headers = {"Authorization": "greenhouse-token", "X-Api-Key": "FEED_KEY"}
    resolved = resolve_headers(headers, tmp_path, {"FEED_KEY": "k1", "greenhouse-token": "not me"})
    assert resolved == {"Authorization": "Basic abc", "X-Api-Key": "k1"}
    with pytest.raises(MissingSecret, match="header X-Api-Key: no file 'FEED_KEY' in FEED_SECRETS_DIR"):
        resolve_headers(headers, tmp_path, {})
    with pytest.raises(MissingSecret, match=r"^header X-Api-Key: no environment variable FEED_KEY$"):
        resolve_headers({"X-Api-Key": "FEED_KEY"}, None, {})
