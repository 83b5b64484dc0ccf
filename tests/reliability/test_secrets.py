"""Credentials stay in the environment: never in logs, the import history, stored listings or dead letters."""

from __future__ import annotations

import base64
import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import redis
from pydantic import SecretStr

from devstack.feedserver import FeedServer, Reply, Request
from devstack.samplefeeds import jobicy_feed, sample_jobs
from devstack.stack import start_redis
from job_importer.db import get_store
from job_importer.deadletters import DeadLetters
from tests.api_server import metric_value
from tests.conftest import free_port, wait_for, wait_for_runs

FEED_SECRET = "feed-pass-7Hq2"
REDIS_SECRET = "redis-pass-9Xv4"


def test_credentials_never_reach_logs_or_history(settings, store, tmp_path: Path) -> None:
    port = free_port()
    private_redis = start_redis(port, lambda message: None)
    redis.Redis(port=port).config_set("requirepass", REDIS_SECRET)
    redis_url = f"redis://:{REDIS_SECRET}@127.0.0.1:{port}/0"
    expected_auth = "Basic " + base64.b64encode(f"feeduser:{FEED_SECRET}".encode()).decode()
    seen_auth: list[str | None] = []

    def private(request: Request) -> Reply:
        seen_auth.append(request.headers.get("authorization"))
        if request.headers.get("authorization") != expected_auth:
            return Reply(status=401, body=b"who are you?", content_type="text/plain")
        return Reply(body=jobicy_feed(sample_jobs(30, seed=17)))

    log_path = tmp_path / "up.log"
    with FeedServer({"/private.xml": private}) as server:
        feeds = {
            "private": server.url("/private.xml").replace("http://", f"http://feeduser:{FEED_SECRET}@"),
            "missing": server.url("/missing.xml").replace("http://", f"http://feeduser:{FEED_SECRET}@"),
            "malformed": f"http://feeduser:{FEED_SECRET}@[::1/feed.xml",  # an invalid URL
        }
        feeds_file = tmp_path / "feeds.toml"
        feeds_file.write_text(
            "".join(f'[[feeds]]\nurl = "{url}"\nsource = "{name}"\n\n' for name, url in feeds.items())
        )
        config = settings.model_copy(
            # DEBUG: httpx logs each request only then, and those lines must be redacted too.
            update={
                "redis_url": redis_url,
                "feeds_file": feeds_file,
                "schedule_cron": "0 0 1 1 *",
                "api_port": free_port(),
                "api_token": SecretStr("secrets-test-token"),
                "metrics_enabled": True,
                "fetcher_metrics_port": free_port(),
                "importer_metrics_port": free_port(),
                "log_level": "DEBUG",
            }
        )
        with open(log_path, "wb") as log:
            up = subprocess.Popen(
                [sys.executable, "-m", "cli", "up"],
                env={**os.environ, **config.as_env()},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            runs = wait_for(
                lambda: (
                    store.runs.count_documents({"status": {"$in": ["completed", "failed"]}}) == len(feeds)
                    and list(store.runs.find())
                ),
                120,
                what="the scheduled runs of the three feeds",
            )
            api = f"http://127.0.0.1:{config.api_port}"
            listed = httpx.get(f"{api}/feeds", timeout=10).text
            picker = (
                httpx.get(f"{api}/ui/app.js", timeout=10).text + listed
            )  # the UI's feed picker reads /feeds
            # The picker starts a feed by the URL it was shown: the configured feed, credentials and all.
            [shown] = [feed["url"] for feed in json.loads(listed) if feed["source"] == "private"]
            assert FEED_SECRET not in shown and "***@" in shown
            again = httpx.post(
                f"{api}/imports/start",
                json={"feeds": [shown]},
                headers={"Authorization": "Bearer secrets-test-token"},
                timeout=10,
            )
            assert again.status_code == 202, again.text
            wait_for_runs(store, again.json()["run_ids"])
            scraped = {
                service: httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
                for service, port in (
                    ("fetcher", config.fetcher_metrics_port),
                    ("importer", config.importer_metrics_port),
                )
            }
            metric_dirs = [
                Path(tempfile.gettempdir()) / f"job-importer-metrics-{service}-{port}"
                for service, port in (
                    ("fetcher", config.fetcher_metrics_port),
                    ("importer", config.importer_metrics_port),
                )
            ]
            modes = {str(path): stat.S_IMODE(path.stat().st_mode) for path in metric_dirs}
            bound = {
                port: listening_addresses(port)
                for port in (config.fetcher_metrics_port, config.importer_metrics_port)
            }
            client = redis.Redis.from_url(redis_url)
            dead = json.dumps(
                [
                    letter.as_dict()
                    for queue in (config.fetch_queue, config.import_queue)
                    for letter in DeadLetters(client, config.queue_namespace, queue).list()
                ]
            )
        finally:
            os.killpg(up.pid, signal.SIGINT)
            code = up.wait(timeout=90)
            private_redis.terminate()
            private_redis.wait(timeout=10)

    by_source = {run["source"]: run for run in runs}
    assert code == 0
    assert (by_source["private"]["status"], by_source["private"]["new"]) == ("completed", 30)
    assert expected_auth in seen_auth  # the credentials were used, from the environment
    assert by_source["missing"]["status"] == "failed" and by_source["missing"]["http_status"] == 404
    assert (
        by_source["malformed"]["status"] == "failed" and "unsupported URL" in by_source["malformed"]["error"]
    )
    assert by_source["private"]["feed_url"].startswith("http://***@127.0.0.1:")

    # What anyone who can reach the API or a metrics port sees: the redacted URL, and the same
    # `feed` label from the fetcher (which has the full URL) as from the importer (the redacted one).
    redacted = feeds["private"].replace(f"feeduser:{FEED_SECRET}", "***")
    assert redacted == shown  # the private feed as GET /feeds lists it
    assert (
        metric_value(scraped["fetcher"], "job_importer_feed_fetches_total", feed=redacted, result="ok") == 2
    )
    assert (
        metric_value(scraped["importer"], "job_importer_items_total", feed=redacted, outcome="new") == 30
    )  # then unchanged
    assert all(mode & 0o077 == 0 for mode in modes.values()), f"metric files readable by others: {modes}"
    # Everything else is on loopback, so the metrics are too (WORKER_METRICS_HOST follows API_HOST).
    assert all(addresses == {"127.0.0.1"} for addresses in bound.values()), bound

    logs = log_path.read_text(errors="replace")
    assert "HTTP Request: GET http://***@127.0.0.1" in logs  # the request was logged, redacted
    assert "completed: http://***@127.0.0.1" in logs  # and the run's outcome line
    stored = json.dumps(
        [
            list(collection.find())
            for collection in (store.runs, store.failed_items, store.jobs, store.feed_state)
        ],
        default=str,
    )
    for secret in (FEED_SECRET, REDIS_SECRET):
        assert secret not in listed and secret not in picker, "a credential in GET /feeds"
        assert all(secret not in text for text in scraped.values()), "a credential in the metrics"
        assert secret not in logs, "a credential in the logs"
        assert secret not in stored, "a credential in MongoDB"
        assert secret not in dead
    assert get_store(config).runs.count_documents({}) == len(feeds) + 1
    assert seen_auth.count(expected_auth) == 2  # the run started by its redacted URL used them too


def listening_addresses(port: int) -> set[str]:
    """The IPv4 addresses a TCP port is listening on, from /proc/net/tcp (no traffic sent)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, _, hex_port = local.partition(":")
        if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
            found.add(".".join(str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0)))
    return found
