"""Every query of the Grafana dashboard answers with data from a real Prometheus scraping a real import.

The services run as in the pods: the HTTP API (`job-importer api`, /metrics) and a fetcher and an
importer worker group, each serving Dramatiq's Prometheus exporter from its own multiprocess
directory. Prometheus (Debian's binary, .tools/bin) scrapes the three on loopback every second
while two imports run: good items, a broken item, a feed that answers 503 once per run (a retry),
a feed that is down (a failed run) and a message that is not a chunk (a dead letter), so every
panel has something to show. Each query then goes to Prometheus's HTTP API as Grafana sends it.
The metric names it expects are the brief's, listed in tests/deploy/dashboard.py.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import dramatiq
import httpx
import pytest
import yaml
from dramatiq.brokers.redis import RedisBroker

from devstack.feedserver import FeedServer, Reply, Request
from devstack.samplefeeds import edited, jobicy_feed, jobxml_feed, sample_jobs
from job_importer.contract import IMPORT_ACTOR
from job_importer.db import Store
from job_importer.settings import FeedConfig, Settings
from tests.conftest import ARTIFACTS, Workers, free_port, run_import, wait_for
from tests.deploy import dashboard as board
from tests.deploy.chart import tool

LOGS = ARTIFACTS / "dashboard-live"
WINDOW = "5m"  # $__rate_interval and $__range: the whole test fits in it


def start_logged(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def api_url(settings: Settings) -> Iterator[str]:
    """`job-importer api` on a free loopback port."""
    port = free_port()
    env = {
        **os.environ,
        **settings.as_env(),
        "API_HOST": "127.0.0.1",
        "API_PORT": str(port),
        "METRICS_ENABLED": "true",
    }
    command = [str(Path(sys.executable).parent / "job-importer"), "api"]
    process = start_logged(command, env, LOGS / f"{settings.queue_namespace}-api.log")
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert process.poll() is None, f"`job-importer api` exited with {process.returncode} (see {LOGS})"
        return answers(f"{base}/healthz")

    try:
        wait_for(healthy, 60, interval=0.2, what="the API's /healthz")
        yield base
    finally:
        stop(process)


@contextmanager
def prometheus(tmp_path: Path, targets: dict[str, str]) -> Iterator[str]:
    """A Prometheus on loopback scraping ``targets`` (job -> host:port) every second."""
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [target]}]} for job, target in targets.items()
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    argv = [
        tool("prometheus"),
        f"--config.file={tmp_path / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--web.console.templates={tmp_path}",
        f"--web.console.libraries={tmp_path}",
    ]
    process = start_logged(argv, dict(os.environ), LOGS / "prometheus.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: answers(f"{url}/-/ready"), 30, interval=0.2, what="Prometheus to start")
        yield url
    finally:
        stop(process)


def query(url: str, expr: str) -> list[dict[str, Any]]:
    body = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=5).json()
    assert body["status"] == "success", f"{expr}: {body}"
    return list(body["data"]["result"])


def has_data(result: list[dict[str, Any]]) -> bool:
    """At least one series with a real number (histogram_quantile over nothing gives NaN)."""
    return any(math.isfinite(float(series["value"][1])) for series in result)


def scraped_since(url: str, moment: float) -> bool:
    """Every target has been scraped at least twice since ``moment`` (a Unix time)."""
    latest = query(url, "timestamp(up == 1)")
    return len(latest) == 3 and all(float(series["value"][1]) > moment + 1.5 for series in latest)


def fails_first_each_run(body: bytes) -> Any:
    """A feed that answers 503 to every other request: each run fails once, then retries and succeeds."""
    hits = {"n": 0}

    def route(request: Request) -> Reply:
        hits["n"] += 1
        if hits["n"] % 2 == 1:
            return Reply(status=503, body=b"busy", content_type="text/plain")
        return Reply(body=body)

    return route


def not_a_chunk(settings: Settings) -> dramatiq.Message[Any]:
    """An importer message that is not a chunk: the importer sends it straight to the dead letters."""
    return dramatiq.Message(
        queue_name=settings.import_queue,
        actor_name=IMPORT_ACTOR,
        args=({"not": "a chunk"},),
        kwargs={},
        options={},
    )


def start_workers(
    workers: Workers, ports: dict[str, int], monkeypatch: pytest.MonkeyPatch, feeds: list[FeedConfig]
) -> None:
    """Both worker groups with metrics on; each exporter gets its own port and multiprocess
    directory from cli.workers.worker_env, as in the pods. The feeds are configured ones, so
    that they have their own ``feed`` label (the active-listings gauge is per configured feed)."""
    monkeypatch.setenv("dramatiq_prom_host", "127.0.0.1")  # loopback only
    for service in ("fetcher", "importer"):
        workers.start(
            service,
            metrics_enabled=True,
            fetcher_metrics_port=ports["fetcher"],
            importer_metrics_port=ports["importer"],
            fetch_max_retries=1,  # the feed that is down fails after one retry
            feeds=[feed.url for feed in feeds],
        )
    workers.wait_ready("fetcher")
    workers.wait_ready("importer")


def test_every_dashboard_query_returns_data_during_an_import(
    settings: Settings,
    store: Store,
    broker: RedisBroker,
    workers: Workers,
    feed_server: FeedServer,
    api_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dashboard = board.load()
    cluster_only = [
        name for name, expr in board.queries(dashboard) if board.metrics_in(expr) & board.CLUSTER_METRICS
    ]
    live = [
        (name, expr)
        for name, expr in board.queries(dashboard)
        if not board.metrics_in(expr) & board.CLUSTER_METRICS
    ]
    assert (
        len(cluster_only) == 2
    )  # the importer replica stat and graph: kube-state-metrics, in a cluster only

    jobs = sample_jobs(80, seed=5)
    jobs[3] = replace(jobs[3], guid="", link="")  # no identity: a failed item
    feed_server.routes["/jobs.xml"] = jobicy_feed(jobs)
    feed_server.routes["/flaky.xml"] = fails_first_each_run(jobicy_feed(sample_jobs(10, seed=6)))
    feed_server.routes["/down.xml"] = lambda request: Reply(
        status=503, body=b"down", content_type="text/plain"
    )
    catalog = sample_jobs(12, start=5000, seed=7)
    feed_server.routes["/board.xml"] = jobxml_feed(catalog)  # a catalog: what leaves it expires
    feeds = [
        FeedConfig(url=feed_server.url(f"/{name}.xml"), source=name)
        for name in ("jobs", "flaky", "down", "board")
    ]
    ports = {"fetcher": free_port(), "importer": free_port()}
    targets = {
        "api": api_url.removeprefix("http://"),
        "fetcher": f"127.0.0.1:{ports['fetcher']}",
        "importer": f"127.0.0.1:{ports['importer']}",
    }

    # Prometheus first: its first scrapes wait for target discovery (a few seconds), the workers' start.
    with prometheus(tmp_path, targets) as url:
        start_workers(workers, ports, monkeypatch, feeds)
        wait_for(lambda: len(query(url, "up == 1")) == 3, 30, interval=0.2, what="all three targets up")
        # Two imports with scrapes in between, so counters grow while Prometheus watches.
        broker.enqueue(not_a_chunk(settings))
        run_import(settings, store, broker, feeds)
        first_done = time.time()
        wait_for(
            lambda: scraped_since(url, first_done), 30, interval=0.2, what="scrapes after the first import"
        )
        feed_server.routes["/jobs.xml"] = jobicy_feed(
            [edited(job) if i % 10 == 0 else job for i, job in enumerate(jobs)]
        )
        feed_server.routes["/board.xml"] = jobxml_feed(catalog[:10])  # two listings closed
        broker.enqueue(not_a_chunk(settings))
        run_import(settings, store, broker, feeds)

        def missing() -> list[str]:
            return [
                f"{name}: {expr}"
                for name, expr in live
                if not has_data(query(url, board.substitute(expr, dashboard, WINDOW)))
            ]

        try:
            wait_for(lambda: not missing(), 30, interval=0.5, what="every dashboard query to return data")
        except AssertionError:
            raise AssertionError("dashboard queries without data:\n" + "\n".join(missing())) from None
    for process in [process for group in workers.processes.values() for process in group]:
        workers.kill(process)  # done with them; a graceful stop is other tests' business
