"""/feeds: the feed registry over HTTP, with the real API, workers and feed server."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from devstack.samplefeeds import sample_jobs
from tests.api.conftest import CONFIGURED
from tests.api.helpers import serve, start, wait_finished
from tests.api_server import ApiServer, Stack
from tests.conftest import wait_for


@pytest.fixture(autouse=True)
def clean_registry(stack: Stack) -> Iterator[None]:
    """Each test leaves the registry as the config made it: no API feeds, config feeds enabled."""
    yield
    stack.store.feeds.delete_many({"managed_by": "api"})
    stack.store.feeds.update_many({"managed_by": "config"}, {"$set": {"enabled": True}})


def test_the_config_feeds_are_listed_as_config_managed_with_their_next_fetch(
    stack: Stack, anon: httpx.Client
) -> None:
    feeds = anon.get("/feeds").json()
    assert [feed["url"] for feed in feeds] == [stack.feeds.url(path) for path in CONFIGURED]
    assert {feed["managed_by"] for feed in feeds} == {"config"}
    assert all(feed["enabled"] and feed["schedule"] is None for feed in feeds)
    assert all(feed["health"]["next_fetch"].endswith(":00:00Z") for feed in feeds)  # hourly: SCHEDULE_CRON


def test_a_feed_is_added_read_changed_and_removed(stack: Stack, client: httpx.Client) -> None:
    url = serve(stack, sample_jobs(3, start=61_000))
    body = {"url": url, "category": "ops", "schedule": "*/10 * * * *", "headers": {"X-Api-Key": "BOARD_KEY"}}
    created = client.post("/feeds", json=body)
    assert created.status_code == 201, created.text
    feed = created.json()
    assert (feed["managed_by"], feed["source"], feed["headers"]) == (
        "api",
        "127.0.0.1",
        {"X-Api-Key": "BOARD_KEY"},
    )
    assert feed["health"]["consecutive_failures"] == 0 and feed["health"]["last_run"] is None
    read = client.get(f"/feeds/{feed['id']}").json()
    assert read | {"health": None} == feed | {"health": None}  # (its next fetch may have moved on)

    assert client.post("/feeds", json={"url": url}).status_code == 409  # one feed per URL
    changed = client.patch(f"/feeds/{feed['id']}", json={"category": None, "schedule": "0 6 * * *"})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["category"], changed.json()["schedule"]) == (None, "0 6 * * *")
    assert changed.json()["health"]["next_fetch"].endswith("T06:00:00Z")

    disabled = client.post(f"/feeds/{feed['id']}/disable").json()
    assert disabled["enabled"] is False and disabled["health"]["next_fetch"] is None
    assert [f["id"] for f in client.get("/feeds", params={"enabled": "false"}).json()] == [feed["id"]]
    assert client.post(f"/feeds/{feed['id']}/enable").json()["enabled"] is True

    assert client.delete(f"/feeds/{feed['id']}").status_code == 204
    assert client.get(f"/feeds/{feed['id']}").status_code == 404
    assert client.delete(f"/feeds/{feed['id']}").status_code == 404


def test_bad_feeds_are_refused_with_the_field_named(stack: Stack, client: httpx.Client) -> None:
    url = serve(stack, sample_jobs(1, start=62_000))
    for body, field in [
        ({"url": "ftp://example.org/feed"}, "url"),
        ({"url": url, "schedule": "hourly"}, "schedule"),
        ({"url": url, "headers": {"Authorization": "Bearer abc"}}, "headers"),  # a value, not a name
        ({"url": url, "format": "csv"}, "format"),
        ({"url": url, "colour": "red"}, "colour"),
    ]:
        response = client.post("/feeds", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["detail"][0]["loc"][:2] == ["body", field], response.text
    feed = client.post("/feeds", json={"url": url}).json()
    response = client.patch(f"/feeds/{feed['id']}", json={"schedule": "soon"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"][:2] == ["body", "schedule"]
    assert client.get(f"/feeds/{feed['id']}").json()["schedule"] is None


def test_config_feeds_may_only_be_enabled_and_disabled(stack: Stack, client: httpx.Client) -> None:
    configured = client.get("/feeds").json()[0]
    for response in (
        client.patch(f"/feeds/{configured['id']}", json={"category": "x"}),
        client.delete(f"/feeds/{configured['id']}"),
    ):
        assert response.status_code == 409
        assert "managed by the config" in response.json()["detail"]
    assert client.post(f"/feeds/{configured['id']}/disable").json()["enabled"] is False
    started = client.post("/imports/start").json()  # every enabled feed: the other one
    [run] = [wait_finished(client, run_id) for run_id in started["run_ids"]]
    assert run["feed_url"] == stack.feeds.url(CONFIGURED[1])


@pytest.fixture(scope="module")
def strict(stack: Stack) -> Iterator[ApiServer]:
    """The API as deployed: private feed addresses refused."""
    server = ApiServer(stack.settings.model_copy(update={"api_allow_private_feeds": False}), "strict-feeds")
    yield server
    server.stop()


def test_feed_urls_on_private_addresses_are_refused(
    stack: Stack, strict: ApiServer, client: httpx.Client
) -> None:
    url = serve(stack, sample_jobs(1, start=63_000))
    with strict.client(stack.token) as guarded:
        refused = guarded.post("/feeds", json={"url": url})
        assert refused.status_code == 422
        [problem] = refused.json()["detail"]
        assert problem["loc"] == ["body", "url"] and "loopback address" in problem["msg"]
        assert stack.store.feeds.count_documents({"url": url}) == 0
        # Allowed by the permissive API (a loopback URL: a later start of every feed must not reach out).
        feed = client.post("/feeds", json={"url": serve(stack, sample_jobs(1, start=63_500))}).json()
        moved = guarded.patch(f"/feeds/{feed['id']}", json={"url": url})
        assert moved.status_code == 422 and "loopback address" in moved.json()["detail"][0]["msg"]


def test_health_follows_the_runs_of_a_registered_feed(stack: Stack, client: httpx.Client) -> None:
    url = serve(stack, sample_jobs(4, start=64_000))
    feed = client.post("/feeds", json={"url": url}).json()
    path = url.rsplit("/", 1)[1]
    [run_id] = start(client, url)
    assert wait_finished(client, run_id)["status"] == "completed"
    health = client.get(f"/feeds/{feed['id']}").json()["health"]
    assert (health["last_run"]["id"], health["last_run"]["status"]) == (run_id, "completed")
    assert (health["active_listings"], health["consecutive_failures"], health["last_error"]) == (4, 0, None)

    del stack.feeds.routes[f"/{path}"]  # a 404 from now on
    failed = [start(client, url)[0] for _ in range(2)]
    for run_id in failed:
        wait_finished(client, run_id)

    def two_failures() -> dict[str, object] | None:
        found = client.get(f"/feeds/{feed['id']}").json()["health"]
        return found if found["consecutive_failures"] == 2 else None

    health = wait_for(two_failures, 10, what="two failures in the feed's health")
    assert health["last_run"]["status"] == "failed" and "404" in health["last_error"]
    assert health["last_success_at"] is not None and health["active_listings"] == 4
