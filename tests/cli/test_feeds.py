"""`job-importer feeds`: the registry from the command line, run as a user runs it."""

from __future__ import annotations

import json

from job_importer import feed_registry
from job_importer.settings import FeedSpec
from tests.cli.helpers import cli

URL = "http://127.0.0.1:9/board.json"


def test_a_feed_is_added_changed_paused_and_removed(settings, store) -> None:
    added = cli(
        settings, "feeds", "add", URL, "--format", "json", "--items", "/jobs", "--field", "guid=/id",
        "--field", "title=/name", "--header", "Authorization=board-token", "--schedule", "*/20 * * * *",
        "--keep-missing", "--json",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    feed = json.loads(added.stdout)
    assert (feed["managed_by"], feed["format"], feed["items"], feed["schedule"]) == (
        "api",
        "json",
        "/jobs",
        "*/20 * * * *",
    )
    assert (feed["fields"], feed["headers"]) == (
        {"guid": "/id", "title": "/name"},
        {"Authorization": "board-token"},
    )
    assert feed["expire_missing"] is False

    changed = json.loads(
        cli(settings, "feeds", "update", URL, "--category", "data", "--schedule", "default", "--json").stdout
    )
    assert (changed["id"], changed["category"], changed["schedule"], changed["items"]) == (
        feed["id"],
        "data",
        None,
        "/jobs",
    )
    assert json.loads(cli(settings, "feeds", "disable", feed["id"], "--json").stdout)["enabled"] is False
    assert [f["id"] for f in json.loads(cli(settings, "feeds", "list", "--disabled", "--json").stdout)] == [
        feed["id"]
    ]
    assert json.loads(cli(settings, "feeds", "list", "--enabled", "--json").stdout) == []
    assert json.loads(cli(settings, "feeds", "enable", feed["id"], "--json").stdout)["enabled"] is True

    listed = cli(settings, "feeds", "list")  # piped: one plain line per feed
    assert listed.returncode == 0 and feed["id"] in listed.stdout and URL in listed.stdout
    assert cli(settings, "feeds", "remove", feed["id"]).returncode == 0
    assert feed_registry.list_feeds(store) == []


def test_refusals_are_one_line_with_an_exit_code(settings, store) -> None:
    feed_registry.sync_config(store, [FeedSpec(url=URL)])
    duplicate = cli(settings, "feeds", "add", URL)
    assert duplicate.returncode == 2 and "is registered already" in duplicate.stderr
    for command in (("update", URL, "--category", "x"), ("remove", URL)):
        refused = cli(settings, "feeds", *command)
        assert refused.returncode == 2 and "managed by the config" in refused.stderr, refused.stderr
    assert json.loads(cli(settings, "feeds", "disable", URL, "--json").stdout)["enabled"] is False
    missing = cli(settings, "feeds", "enable", "feed-none")
    assert missing.returncode == 6 and "no feed 'feed-none'" in missing.stderr
    bad = cli(settings, "feeds", "add", "http://127.0.0.1:9/other.xml", "--schedule", "often")
    assert bad.returncode == 2 and "not a valid feed: schedule:" in bad.stderr
    bad_header = cli(settings, "feeds", "add", "http://127.0.0.1:9/other.xml", "--header", "Authorization")
    assert bad_header.returncode == 2 and "is not name=value" in bad_header.stderr
    assert [feed.url for feed in feed_registry.list_feeds(store)] == [URL]


def test_import_without_feed_starts_the_enabled_feeds_of_the_registry(settings, store) -> None:
    on, off = "http://127.0.0.1:9/on.xml", "http://127.0.0.1:9/off.xml"
    assert cli(settings, "feeds", "add", on, "--source", "on-board").returncode == 0
    assert cli(settings, "feeds", "add", off).returncode == 0
    assert cli(settings, "feeds", "disable", off).returncode == 0
    started = cli(settings, "import", "--json")
    assert started.returncode == 0, started.stderr
    run_ids = json.loads(started.stdout)["run_ids"]
    runs = list(store.runs.find({"_id": {"$in": run_ids}}))
    assert [(run["feed_url"], run["source"]) for run in runs] == [(on, "on-board")]
