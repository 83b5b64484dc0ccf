"""/metrics of the API and of each worker service, scraped after an import."""

from __future__ import annotations

import time

import httpx
import pytest

from devstack.feedserver import Reply
from devstack.samplefeeds import jobicy_feed, sample_jobs
from tests.api.helpers import scrape, serve, start, wait_finished
from tests.api.test_queues import send_bad_chunk
from tests.api_server import Stack, metric_value
from tests.conftest import wait_for


@pytest.fixture(scope="module")
def scrapes(stack: Stack) -> dict[str, str]:
    """Scrape both worker services before and after importing a configured feed with a duplicate and a broken item."""
    feed = stack.settings.feeds[0]
    jobs = sample_jobs(30, start=80_000, seed=3)
    jobs[5] = jobs[4]  # a duplicate entry
    jobs[9] = jobs[9].__class__(**{**jobs[9].__dict__, "title": ""})  # a failed item
    stack.feeds.routes[feed.split(str(stack.feeds.port), 1)[1]] = jobicy_feed(jobs)
    urls = {
        "fetcher": f"http://127.0.0.1:{stack.settings.fetcher_metrics_port}/metrics",
        "importer": f"http://127.0.0.1:{stack.settings.importer_metrics_port}/metrics",
    }
    before = {name: scrape(url) for name, url in urls.items()}
    with stack.api.client(stack.token) as client:
        [run_id] = start(client, feed)
        run = wait_finished(client, run_id)
    assert (run["fetched"], run["duplicates"], run["failed"]) == (30, 1, 1)
    after = {name: scrape(url) for name, url in urls.items()}
    return {
        **{f"{name}_before": text for name, text in before.items()},
        **after,
        "feed": feed,
        "finished": str(time.time()),
    }


def delta(scrapes: dict[str, str], service: str, name: str, **labels: str) -> float:
    return (metric_value(scrapes[service], name, **labels) or 0) - (
        metric_value(scrapes[f"{service}_before"], name, **labels) or 0
    )


def test_the_fetcher_exports_dramatiq_and_fetch_metrics(scrapes: dict[str, str]) -> None:
    feed = scrapes["feed"]
    assert (
        delta(scrapes, "fetcher", "dramatiq_messages_total", queue_name="fetch", actor_name="fetch_feed") == 1
    )
    # labelled with the feed's source too (the feed alert names it): FEEDS gives the host
    assert (
        delta(
            scrapes, "fetcher", "job_importer_feed_fetches_total", feed=feed, source="127.0.0.1", result="ok"
        )
        == 1
    )
    assert delta(scrapes, "fetcher", "job_importer_feed_fetch_duration_seconds_count", feed=feed) == 1
    assert 0 < delta(scrapes, "fetcher", "job_importer_feed_fetch_duration_seconds_sum", feed=feed) < 10
    assert delta(scrapes, "fetcher", "job_importer_items_total", feed=feed, outcome="duplicate") == 1
    assert delta(scrapes, "fetcher", "job_importer_items_total", feed=feed, outcome="failed") == 1
    assert (
        metric_value(
            scrapes["fetcher"], "dramatiq_messages_inprogress", queue_name="fetch", actor_name="fetch_feed"
        )
        == 0
    )
    assert (
        delta(
            scrapes,
            "fetcher",
            "dramatiq_message_duration_milliseconds_count",
            queue_name="fetch",
            actor_name="fetch_feed",
        )
        == 1
    )


def test_dead_letters_show_as_errors_and_rejects(
    stack: Stack, client: httpx.Client, scrapes: dict[str, str]
) -> None:
    send_bad_chunk(stack)
    wait_for(lambda: client.get("/queues/import/dead").json()["total"] == 1, 30, what="the bad chunk to die")
    text = scrape(f"http://127.0.0.1:{stack.settings.importer_metrics_port}/metrics")
    labels = {"queue_name": "import", "actor_name": "import_chunk"}
    assert (metric_value(text, "dramatiq_message_errors_total", **labels) or 0) >= 1
    assert (metric_value(text, "dramatiq_message_rejects_total", **labels) or 0) >= 1
    api = client.get("/metrics").text
    assert metric_value(api, "job_importer_queue_messages", queue="import", state="dead") == 1
    assert client.delete("/queues/import/dead").json() == {"count": 1}


def test_the_importer_exports_item_outcomes_chunk_writes_and_runs(scrapes: dict[str, str]) -> None:
    feed = scrapes["feed"]
    outcomes = {
        outcome: delta(scrapes, "importer", "job_importer_items_total", feed=feed, outcome=outcome)
        for outcome in ("new", "updated", "unchanged")
    }
    assert sum(outcomes.values()) == 28  # 30 entries - 1 duplicate - 1 failed
    assert (
        delta(scrapes, "importer", "dramatiq_messages_total", queue_name="import", actor_name="import_chunk")
        == 2
    )
    assert delta(scrapes, "importer", "job_importer_chunk_write_duration_seconds_count") == 2  # chunks of 20
    completed = sum(
        delta(scrapes, service, "job_importer_runs_total", status="completed")
        for service in ("fetcher", "importer")
    )
    assert completed == 1
    assert (
        sum(
            delta(scrapes, s, "job_importer_run_duration_seconds_count", status="completed")
            for s in ("fetcher", "importer")
        )
        == 1
    )
    last = max(
        metric_value(scrapes[s], "job_importer_last_success_timestamp_seconds", feed=feed) or 0
        for s in ("fetcher", "importer")
    )
    assert float(scrapes["finished"]) - 30 < last <= float(scrapes["finished"])


def test_ad_hoc_feeds_share_one_label(stack: Stack, client: httpx.Client, scrapes: dict[str, str]) -> None:
    url = serve(stack, sample_jobs(3, start=85_000))
    [run_id] = start(client, url)
    assert wait_finished(client, run_id)["new"] == 3
    fetcher = scrape(f"http://127.0.0.1:{stack.settings.fetcher_metrics_port}/metrics")
    importer = scrape(f"http://127.0.0.1:{stack.settings.importer_metrics_port}/metrics")
    assert (
        metric_value(fetcher, "job_importer_feed_fetches_total", feed="other", source="other", result="ok")
        or 0
    ) >= 1
    assert (metric_value(importer, "job_importer_items_total", feed="other", outcome="new") or 0) >= 3
    for text in (fetcher, importer):
        feeds = {
            line.split('feed="', 1)[1].split('"', 1)[0] for line in text.splitlines() if 'feed="' in line
        }
        # Bounded: an ad-hoc URL never becomes a label value. The other values are configured
        # feeds and feeds of the registry, including ones other tests of this stack registered
        # and removed since (a label, once named, stays for the life of the process).
        assert url not in feeds and "other" in feeds


def test_a_feed_of_the_registry_has_its_own_label(stack: Stack, client: httpx.Client) -> None:
    """Added at run time, it is no config feed the fetcher knew at start: its fetch message names it,
    so a failing API feed's alert says which feed and source it is."""
    path = "/registered-but-down.xml"
    stack.feeds.routes[path] = lambda request: Reply(status=404, body=b"gone", content_type="text/plain")
    url = stack.feeds.url(path)
    added = client.post("/feeds", json={"url": url, "source": "registered-board"})
    assert added.status_code == 201
    [run_id] = start(client, url)
    assert wait_finished(client, run_id)["status"] == "failed"
    # The stack's other tests list the feeds: this one goes once it has done its part.
    assert client.delete(f"/feeds/{added.json()['id']}").status_code == 204
    fetcher = scrape(f"http://127.0.0.1:{stack.settings.fetcher_metrics_port}/metrics")
    labels = {"feed": url, "source": "registered-board", "result": "http_4xx"}
    assert metric_value(fetcher, "job_importer_feed_fetches_total", **labels) == 1


def test_the_importer_labels_a_feed_of_the_registry_as_the_fetcher_does(
    stack: Stack, client: httpx.Client
) -> None:
    """The importer learns of a feed added at run time from its chunks: the feed's items and active
    listings carry its own label there too, not ``other``."""
    path = "/registered-and-up.xml"
    stack.feeds.routes[path] = jobicy_feed(sample_jobs(3, start=62_000, seed=62))
    url = stack.feeds.url(path)
    added = client.post("/feeds", json={"url": url, "source": "registered-up"})
    assert added.status_code == 201
    [run_id] = start(client, url)
    assert wait_finished(client, run_id)["status"] == "completed"
    assert client.delete(f"/feeds/{added.json()['id']}").status_code == 204
    importer = scrape(f"http://127.0.0.1:{stack.settings.importer_metrics_port}/metrics")
    assert metric_value(importer, "job_importer_items_total", feed=url, outcome="new") == 3
    assert metric_value(importer, "job_importer_active_listings", feed=url) == 3
    assert metric_value(importer, "job_importer_last_success_timestamp_seconds", feed=url)


def test_the_api_exports_queue_gauges(stack: Stack, client: httpx.Client) -> None:
    assert client.post("/queues/fetch/pause").status_code == 200
    try:
        wait_for(
            lambda: all(
                q["workers_paused"] == q["workers"]
                for q in client.get("/queues").json()
                if q["queue"] == "fetch"
            ),
            10,
            what="the pause",
        )
        [run_id] = start(client, stack.settings.feeds[1])

        def aged() -> str | None:
            text = client.get("/metrics").text
            return (
                text
                if metric_value(text, "job_importer_queue_oldest_message_age_seconds", queue="fetch")
                else None
            )

        text = wait_for(aged, 10, what="the waiting fetch to age")
        assert metric_value(text, "job_importer_queue_messages", queue="fetch", state="ready") == 1
        for state in ("delayed", "in_progress", "dead"):
            assert metric_value(text, "job_importer_queue_messages", queue="import", state=state) is not None
        assert (
            0 < (metric_value(text, "job_importer_queue_oldest_message_age_seconds", queue="fetch") or 0) < 30
        )
        assert metric_value(text, "job_importer_queue_oldest_message_age_seconds", queue="import") == 0
        assert "process_cpu_seconds_total" in text
    finally:
        client.post("/queues/fetch/resume")
    wait_finished(client, run_id)  # leave nothing queued for the next tests


def test_the_api_exports_redis_memory_for_the_maxmemory_alert(stack: Stack, anon: httpx.Client) -> None:
    text = anon.get("/metrics").text
    info = stack.broker.client.info("memory")
    used = metric_value(text, "job_importer_redis_memory_used_bytes")
    assert used is not None and used > 0
    assert metric_value(text, "job_importer_redis_memory_max_bytes") == float(info["maxmemory"])
