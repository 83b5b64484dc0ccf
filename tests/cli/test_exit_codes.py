"""Each exit code of the CLI (cli/exitcodes.py), produced the way a user meets it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from cli import exitcodes
from devstack.feedserver import FeedServer, Reply
from devstack.samplefeeds import jobicy_feed, sample_jobs
from job_importer import history
from job_importer.control import pause, worker_states
from tests.cli.helpers import bury, cli, cli_env
from tests.conftest import Workers, free_port, wait_for


def pause_fetcher(settings, broker) -> None:
    """Pause the fetch queue and wait until the fetcher has seen it: one that has not yet may
    still take the next fetch."""
    pause(broker.client, settings.queue_namespace, [settings.fetch_queue])
    wait_for(
        lambda: worker_states(broker.client, settings.queue_namespace, settings.fetch_queue) == ["paused"],
        what="the fetcher to pause",
    )


def test_ok_and_usage(settings, store) -> None:
    assert cli(settings, "runs").returncode == exitcodes.OK
    result = cli(settings, "runs", "--limit", "0")
    assert result.returncode == exitcodes.USAGE and "Traceback" not in result.stderr


def test_a_failed_run_exits_1(settings, store, broker, workers: Workers) -> None:
    workers.start_both()
    with FeedServer({"/gone.xml": Reply(status=404, body=b"gone")}) as server:
        result = cli(settings, "import", "--feed", server.url("/gone.xml"), "--wait", "--json")
    assert result.returncode == exitcodes.RUN_FAILED, result.stderr
    assert json.loads(result.stdout)["runs"][0]["status"] == "failed"


def test_a_wait_that_times_out_exits_3_and_says_how_to_follow(
    settings, store, broker, workers: Workers
) -> None:
    workers.start_both()
    pause_fetcher(settings, broker)  # the run stays queued
    with FeedServer({"/jobs.xml": jobicy_feed(sample_jobs(2, seed=1))}) as server:
        result = cli(settings, "import", "--feed", server.url("/jobs.xml"), "--wait", "--timeout", "2")
    assert result.returncode == exitcodes.TIMED_OUT, result.stderr
    assert "Traceback" not in result.stderr
    [run] = history.list_runs(store)
    assert (
        f"timed out: 0 of 1 run(s) finished after 2 s; the import goes on: batch {run['batch_id']}"
        in result.stderr
    )
    assert f"job-importer runs --batch {run['batch_id']}" in result.stderr
    follow = json.loads(cli(settings, "runs", "--batch", run["batch_id"], "--json").stdout)
    assert [r["run_id"] for r in follow] == [run["_id"]]


def test_ctrl_c_exits_130_with_the_batch_id(settings, store, broker, workers: Workers) -> None:
    workers.start_both()
    pause_fetcher(settings, broker)
    with FeedServer({"/jobs.xml": jobicy_feed(sample_jobs(2, seed=1))}) as server:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "import", "--feed", server.url("/jobs.xml"), "--wait"],
            env=cli_env(settings),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        [run] = wait_for(lambda: history.list_runs(store), 60, what="the run to be created")
        ready = f"{settings.queue_namespace}:{settings.fetch_queue}"
        wait_for(lambda: broker.client.llen(ready), 30, what="its fetch to be queued (the wait begins)")
        os.kill(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == exitcodes.INTERRUPTED, stderr
    assert f"interrupted; the import goes on: batch {run['batch_id']}" in stderr
    assert f"job-importer runs --batch {run['batch_id']}" in stderr


def test_unreachable_redis_or_mongodb_exits_4(settings) -> None:
    result = cli(settings, "queues", REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    assert result.returncode == exitcodes.UNREACHABLE and "Redis does not answer" in result.stderr
    result = cli(
        settings, "runs", MONGODB_URL=f"mongodb://127.0.0.1:{free_port()}/", MONGODB_TIMEOUT_MS="300"
    )
    assert result.returncode == exitcodes.UNREACHABLE and "MongoDB does not answer" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_configuration_exits_5(settings) -> None:
    result = cli(settings, "queues", WORKER_BATCH_SIZE="abc")
    assert result.returncode == exitcodes.BAD_CONFIG


def test_requeue_or_purge_of_an_unknown_id_exits_6(settings, broker, redis_client) -> None:
    known = bury(settings, redis_client, "boom")
    result = cli(settings, "dlq", "requeue", "no-such-id")
    assert result.returncode == exitcodes.NOT_FOUND
    assert "no dead message with id 'no-such-id'" in result.stderr and "requeued 0" in result.stdout
    both = cli(settings, "dlq", "requeue", known, "no-such-id", "--json")
    assert both.returncode == exitcodes.NOT_FOUND
    assert json.loads(both.stdout) == {"count": 1, "not_found": ["no-such-id"]}
    assert redis_client.llen(f"{settings.queue_namespace}:{settings.import_queue}") == 1  # back, ready
    assert cli(settings, "dlq", "purge", "no-such-id", "--yes").returncode == exitcodes.NOT_FOUND


def test_version() -> None:
    result = cli(None, "--version")
    assert result.returncode == 0 and result.stdout.strip() == "job-importer 0.1.0"
