"""The feed registry end to end: a feed added through the API is fetched by a real scheduler at
its next slot, through real workers, with exact counts; disabled, it is fetched no more."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from datetime import datetime

from pydantic import SecretStr

from devstack.feedserver import FeedServer
from devstack.samplefeeds import jobicy_feed, sample_jobs
from tests.api_server import ApiServer
from tests.conftest import Workers, assert_adds_up, wait_for, wait_for_runs

EVERY_2_S = "* * * * * */2"  # croniter reads a sixth field as seconds


def runs_of(store, url: str) -> list[dict]:
    return list(store.runs.find({"feed_url": url}).sort("created_at", 1))


def test_a_feed_added_through_the_api_is_fetched_at_its_next_slot_until_disabled(
    settings, store, broker, workers: Workers, feed_server: FeedServer
) -> None:
    feed_server.routes["/config.xml"] = jobicy_feed(sample_jobs(5, start=70_000, seed=70))
    feed_server.routes["/added.xml"] = jobicy_feed(sample_jobs(7, start=71_000, seed=71))
    feed_server.routes["/witness.xml"] = jobicy_feed(sample_jobs(2, start=72_000, seed=72))
    config = settings.model_copy(
        update={
            "feeds": [feed_server.url("/config.xml")],
            "schedule_cron": "0 0 1 1 *",  # the config feed: its current slot at start, then not this year
            "schedule_refresh_s": 1,
            "api_token": SecretStr(f"token-{uuid.uuid4().hex}"),
            "api_allow_private_feeds": True,  # API feeds' fetches are guarded: the feed server is on loopback
        }
    )
    workers.settings = config
    workers.start_both()
    api = ApiServer(config, "registry-e2e")
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "cli", "schedule"],
        env={**os.environ, **config.as_env()},
        stderr=subprocess.PIPE,
    )
    try:
        [config_run] = wait_for(
            lambda: runs_of(store, feed_server.url("/config.xml")), 30, what="the config feed"
        )
        token = config.api_token.get_secret_value() if config.api_token else ""
        with api.client(token) as client:
            response = client.post(
                "/feeds", json={"url": feed_server.url("/added.xml"), "schedule": EVERY_2_S}
            )
            assert response.status_code == 201, response.text
            feed = response.json()
            added_at = datetime.fromisoformat(feed["created_at"])

            first = wait_for(
                lambda: runs_of(store, feed_server.url("/added.xml")), 30, what="the added feed's run"
            )[0]
            [run] = wait_for_runs(store, [first["_id"]])
            assert (run["status"], run["trigger"]) == ("completed", "schedule")
            assert (run["fetched"], run["new"], run["updated"], run["unchanged"], run["failed"]) == (
                7,
                7,
                0,
                0,
                0,
            )
            assert_adds_up(run)
            assert 0 <= (run["created_at"] - added_at).total_seconds() <= 2 + config.schedule_refresh_s + 1
            assert store.jobs.count_documents({"feed_url": feed_server.url("/added.xml")}) == 7
            health = wait_for(
                lambda: (h := client.get(f"/feeds/{feed['id']}").json()["health"])["last_run"] and h,
                10,
                what="the feed's health",
            )
            assert (health["active_listings"], health["consecutive_failures"]) == (7, 0)

            disabled = client.post(f"/feeds/{feed['id']}/disable")
            assert disabled.status_code == 200 and disabled.json()["enabled"] is False
            # A witness on the same schedule, added after the disable: the scheduler's looks that
            # start it read the registry after the disable, so two of its slots pass...
            client.post("/feeds", json={"url": feed_server.url("/witness.xml"), "schedule": EVERY_2_S})
            witness = wait_for(
                lambda: (found := runs_of(store, feed_server.url("/witness.xml")))[1:] and found,
                30,
                what="two witness slots",
            )
        # ... and the disabled feed had none of them.
        added = runs_of(store, feed_server.url("/added.xml"))
        assert max(run["created_at"] for run in added) < witness[0]["created_at"]
        all_runs = [doc["_id"] for doc in store.runs.find({}, {"_id": 1})]
        finished = wait_for_runs(store, all_runs)
        assert {doc["status"] for doc in finished} == {"completed"}
        assert (
            len(runs_of(store, feed_server.url("/config.xml"))) == 1 and config_run["trigger"] == "schedule"
        )
        assert feed_server.hits["/added.xml"] == len(added)  # one fetch per run
    finally:
        scheduler.send_signal(signal.SIGTERM)
        code = scheduler.wait(timeout=30)
        api.stop()
    assert code == 0, scheduler.stderr.read() if scheduler.stderr else ""
