"""The `job-importer` command as a user runs it, against the test's Redis and MongoDB."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from devstack.feedserver import FeedServer
from devstack.samplefeeds import jobicy_feed, sample_jobs
from job_importer.settings import Settings
from tests.conftest import Workers


def cli(settings: Settings, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env={**os.environ, **settings.as_env(), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_import_wait_json_against_running_workers(settings, store, broker, workers: Workers) -> None:
    workers.start_both()
    with FeedServer({"/jobs.xml": jobicy_feed(sample_jobs(42, seed=8))}) as server:
        result = cli(settings, "import", "--feed", server.url("/jobs.xml"), "--wait", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    [run] = summary["runs"]
    assert run["feed"] == server.url("/jobs.xml")
    assert {k: run[k] for k in ("status", "fetched", "new", "updated", "unchanged", "duplicates", "failed")} == {
        "status": "completed", "fetched": 42, "new": 42, "updated": 0, "unchanged": 0, "duplicates": 0, "failed": 0,
    }  # fmt: skip
    assert summary["totals"]["new"] == 42

    runs = json.loads(cli(settings, "runs", "--json").stdout)
    assert [r["run_id"] for r in runs] == [run["run_id"]]
    queues = {q["queue"]: q for q in json.loads(cli(settings, "queues", "--json").stdout)}
    assert queues[settings.import_queue]["ready"] == 0 and queues[settings.import_queue]["dead"] == 0


def test_demo_imports_the_bundled_feeds_then_finds_them_unchanged(settings, store, broker) -> None:
    first = cli(settings, "demo", "--json")
    assert first.returncode == 0, first.stderr
    totals = json.loads(first.stdout)["totals"]
    assert totals == {"fetched": 500, "new": 496, "updated": 0, "unchanged": 0, "duplicates": 0, "failed": 4,
                      "expired": 0, "reactivated": 0}  # fmt: skip
    assert "starting a fetcher and an importer" in first.stderr
    second = json.loads(cli(settings, "demo", "--json").stdout)["totals"]
    assert second == {"fetched": 500, "new": 0, "updated": 0, "unchanged": 496, "duplicates": 0, "failed": 4,
                      "expired": 0, "reactivated": 0}  # fmt: skip
    failed = json.loads(cli(settings, "failed", "--json").stdout)
    reasons = {row["reason"] for row in failed}
    assert "entry has no guid, link or id to identify it" in reasons
    assert "entry has no title" in reasons


def test_bad_input_gets_a_clear_error(settings) -> None:
    result = cli(settings, "import", "--feed", "ftp://example.org/feed", "--wait")
    assert result.returncode == 2 and "not an http(s) URL" in result.stderr
    result = cli(settings, "pause", "--queue", "nope")
    assert result.returncode == 2 and "unknown queue" in result.stderr


def test_pause_resume_and_dead_letter_commands(settings, redis_client) -> None:
    assert "paused: " in cli(settings, "pause").stderr
    assert {q["queue"]: q["paused"] for q in json.loads(cli(settings, "queues", "--json").stdout)} == {
        settings.fetch_queue: True, settings.import_queue: True,
    }  # fmt: skip
    assert "resumed" in cli(settings, "resume", "--queue", settings.fetch_queue).stderr
    assert {q["queue"]: q["paused"] for q in json.loads(cli(settings, "queues", "--json").stdout)} == {
        settings.fetch_queue: False, settings.import_queue: True,
    }  # fmt: skip
    assert json.loads(cli(settings, "dlq", "list", "--json").stdout) == []
    assert "requeued 0" in cli(settings, "dlq", "requeue", "--all").stdout


def test_a_runs_parse_warning_is_shown_in_the_table_and_the_json(
    settings, store, broker, workers: Workers
) -> None:
    body = jobicy_feed(sample_jobs(6, seed=9))
    truncated = body[: body.index(b"</item>", len(body) // 2) + len(b"</item>")]  # no closing tags
    workers.start_both()
    with FeedServer({"/cut.xml": truncated}) as server:
        table = cli(settings, "import", "--feed", server.url("/cut.xml"), "--wait")
        as_json = cli(settings, "import", "--feed", server.url("/cut.xml"), "--wait", "--json")
    assert table.returncode == 0, table.stderr
    assert "warning: malformed feed" in " ".join(table.stdout.split())
    [run] = json.loads(as_json.stdout)["runs"]
    assert run["warning"].startswith("malformed feed") and "entries recovered" in run["warning"]
