"""LOG_LEVEL and LOG_FORMAT in real processes: the API's access log, the workers' run outcome
lines, httpx quiet by default."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from devstack.feedserver import FeedServer, Reply
from devstack.samplefeeds import jobicy_feed, sample_jobs
from job_importer.settings import FeedConfig
from tests.conftest import Workers, free_port, run_import, wait_for


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_the_api_logs_each_request_as_json(settings, store) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "api", "--port", str(port)],
        env={**os.environ, **settings.as_env(), "LOG_FORMAT": "json"},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"

        def answers() -> bool:
            try:
                return httpx.get(f"{base}/healthz").status_code == 200
            except httpx.TransportError:
                return False

        wait_for(answers, 30, what="the API")
        assert httpx.get(f"{base}/queues").status_code == 200
        assert httpx.get(f"{base}/imports/nope").status_code == 404
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    lines = json_lines(stderr)
    assert len(lines) == len(stderr.strip().splitlines()), stderr  # every line is JSON
    access = [line for line in lines if line["logger"] == "job_importer.api.access"]
    assert [(a["method"], a["path"], a["status"]) for a in access] == [
        ("GET", "/queues", 200),
        ("GET", "/imports/nope", 404),
    ]
    assert all(a["level"] == "INFO" and a["duration_ms"] >= 0 and a["client"] == "127.0.0.1" for a in access)


def worker_log(workers: Workers, service: str) -> str:
    return Path(workers.log_dir / f"{workers.settings.queue_namespace}-{service}-0.log").read_text()


def test_each_run_outcome_is_one_line_and_httpx_is_quiet(settings, store, broker, workers: Workers) -> None:
    for service in ("fetcher", "importer"):
        workers.start(service, log_format="json")  # type: ignore[arg-type]
        workers.wait_ready(service)  # type: ignore[arg-type]
    with FeedServer(
        {"/ok.xml": jobicy_feed(sample_jobs(4, seed=2)), "/gone.xml": Reply(status=404)}
    ) as server:
        ok, gone = run_import(
            settings,
            store,
            broker,
            [FeedConfig(url=server.url("/ok.xml")), FeedConfig(url=server.url("/gone.xml"))],
        )
    workers.stop_all()
    lines = json_lines(worker_log(workers, "fetcher")) + json_lines(worker_log(workers, "importer"))
    outcomes = {line["run_id"]: line for line in lines if line.get("logger") == "job_importer.history"}
    assert set(outcomes) == {ok["_id"], gone["_id"]}
    done = outcomes[ok["_id"]]
    assert (done["status"], done["feed"], done["fetched"], done["new"], done["failed"]) == (
        "completed",
        server.url("/ok.xml"),
        4,
        4,
        0,
    )
    assert done["duration_ms"] >= 0 and done["message"].startswith(
        f"run {ok['_id']} completed: {server.url('/ok.xml')}; fetched 4, new 4"
    )
    failed = outcomes[gone["_id"]]
    assert failed["status"] == "failed" and failed["error"] == gone["error"] and failed["level"] == "INFO"
    assert not any(line.get("logger", "").startswith("httpx") for line in lines)


def test_debug_lets_httpx_speak_in_text(settings, store, broker, workers: Workers) -> None:
    workers.start("fetcher", log_level="DEBUG")  # type: ignore[arg-type]
    workers.start("importer")
    workers.wait_ready("fetcher")
    workers.wait_ready("importer")
    with FeedServer({"/ok.xml": jobicy_feed(sample_jobs(1, seed=3))}) as server:
        run_import(settings, store, broker, [FeedConfig(url=server.url("/ok.xml"))])
    workers.stop_all()
    text = worker_log(workers, "fetcher")
    assert f'HTTP Request: GET {server.url("/ok.xml")} "HTTP/1.1 200 OK"' in text
    assert "[DEBUG]" in text and not json_lines(text)  # Dramatiq's text format, kept
