"""`job-importer messages`: the message browser on the command line (no workers: messages stay put)."""

from __future__ import annotations

import json

from cli import exitcodes
from job_importer import history
from job_importer.contract import fetch_message
from job_importer.settings import FeedConfig
from job_importer.trigger import start_import
from tests.cli.helpers import bury, cli, in_terminal

SECRET_URL = "http://ops:s3cret@127.0.0.1:9/feeds/remote-engineering-jobs.xml"


def test_list_show_promote_and_delete(settings, store, broker, redis_client) -> None:
    started = start_import(
        settings, store, broker, [FeedConfig(url=SECRET_URL), FeedConfig(url="http://127.0.0.1:9/b")], "cli"
    )
    delayed_feed = FeedConfig(url="http://127.0.0.1:9/later")
    [later_run] = history.create_runs(store, [delayed_feed], "cli", started.batch_id)
    later = broker.enqueue(fetch_message(settings, later_run, delayed_feed), delay=600_000).options[
        "redis_message_id"
    ]

    page = json.loads(
        cli(settings, "messages", "list", "fetch", "--json", "--limit", "1", "--skip", "1").stdout
    )
    assert page["total"] == 2 and [row["run_id"] for row in page["items"]] == started.run_ids[1:]
    ready = json.loads(cli(settings, "messages", "list", "fetch", "--json").stdout)["items"]
    first = ready[0]["message_id"]
    shown = cli(settings, "messages", "show", "fetch", first)
    assert (
        shown.returncode == 0 and "http://***@127.0.0.1:9/feeds/remote-engineering-jobs.xml" in shown.stdout
    )
    assert "s3cret" not in shown.stdout and "state: ready" in shown.stdout
    screen = in_terminal(settings, 80, "messages", "list", "fetch")
    assert all(row["message_id"] in screen.text for row in ready) and "…" not in screen.text

    [delayed] = json.loads(cli(settings, "messages", "list", "fetch", "--state", "delayed", "--json").stdout)[
        "items"
    ]
    assert delayed["message_id"] == later and delayed["eta"]
    assert json.loads(cli(settings, "messages", "promote", "fetch", later, "--json").stdout)["count"] == 1
    assert json.loads(cli(settings, "messages", "list", "fetch", "--json").stdout)["total"] == 3

    refused = cli(settings, "messages", "delete", "fetch", first)
    assert refused.returncode == exitcodes.USAGE and "--yes" in refused.stderr
    deleted = cli(settings, "messages", "delete", "fetch", first, "nope", "--yes", "--json")
    assert deleted.returncode == exitcodes.NOT_FOUND
    assert json.loads(deleted.stdout) == {"count": 1, "ids": [first], "skipped": ["nope"]}
    run = history.get_run(store, started.run_ids[0])
    assert run is not None and run["status"] == "failed" and "deleted by an operator" in run["error"]
    assert cli(settings, "messages", "show", "fetch", first).returncode == exitcodes.NOT_FOUND


def test_dead_messages_show_their_whole_traceback(settings, redis_client) -> None:
    message_id = bury(settings, redis_client, "chunk 0 is not a chunk")
    [row] = json.loads(cli(settings, "messages", "list", "import", "--state", "dead", "--json").stdout)[
        "items"
    ]
    assert row["message_id"] == message_id and row["state"] == "dead"
    shown = cli(settings, "messages", "show", "import", message_id)
    assert "error: chunk 0 is not a chunk" in shown.stdout
    assert (
        "traceback:\nTraceback (most recent call last):\nValueError: chunk 0 is not a chunk" in shown.stdout
    )
    assert cli(settings, "messages", "list", "nope").returncode == exitcodes.USAGE
