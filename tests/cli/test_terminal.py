"""Every listing command shows its data whole: in a terminal of 80 and of 200 columns, and piped.

The commands run for real (a pseudo-terminal of the given size, or a pipe) against the test's
Redis and MongoDB, seeded with what made the old tables cut: long feed URLs, full run and
message ids, errors with brackets in them.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from devstack.feedserver import FeedServer
from devstack.samplefeeds import jobicy_feed, sample_jobs
from tests.cli.helpers import DEAD_REASON, ERROR, GUID, LONG_URL, REASON, cli, in_terminal
from tests.conftest import Workers


def expected(seeded: dict[str, Any]) -> dict[tuple[str, ...], list[str]]:
    """Per command, the values that must appear whole."""
    return {
        ("runs",): [*seeded["run_ids"], *seeded["urls"], ERROR],
        ("failed",): [f"{seeded['run_ids'][1]}:g1", seeded["run_ids"][1], GUID, REASON],
        ("dlq", "list"): [*seeded["dead"], DEAD_REASON],
        ("queues",): ["import", "fetch"],
        ("feeds", "list"): [seeded["feed_id"], LONG_URL, "*/15 * * * *"],
    }


@pytest.mark.parametrize("columns", [80, 200])
def test_listings_in_a_terminal_show_every_value_whole(settings, seeded, columns: int) -> None:
    for command, values in expected(seeded).items():
        screen = in_terminal(settings, columns, *command)
        assert screen.returncode == 0, screen.text
        for value in values:
            assert value in screen.text, (command, columns, value, screen.text)
        assert "…" not in screen.text, (command, screen.text)
        assert all(len(line) <= columns for line in screen.text.splitlines() if "│" in line), screen.text


def test_narrow_terminals_stack_rows_and_small_tables_stay_framed(settings, seeded) -> None:
    runs = in_terminal(settings, 80, "runs").text
    assert f"run: {seeded['run_ids'][0]}" in runs and "╭" not in runs  # one block per run
    assert f"feed: {LONG_URL}" in runs
    queues = in_terminal(settings, 80, "queues").text
    assert "╭" in queues and "dead" in queues  # fits: a table
    wide = in_terminal(settings, 400, "dlq", "list").text
    assert "╭" in wide and all(message_id in wide for message_id in seeded["dead"])


def test_piped_output_is_plain_one_line_per_row(settings, seeded) -> None:
    for command, values in expected(seeded).items():
        result = cli(settings, *command)
        assert result.returncode == 0, result.stderr
        for value in values:
            assert value in result.stdout, (command, value, result.stdout)
        assert "╭" not in result.stdout and "│" not in result.stdout and "…" not in result.stdout
    lines = cli(settings, "runs").stdout.splitlines()
    assert lines[0].split()[:4] == ["run", "feed", "trigger", "status"]
    [failed_line] = [line for line in lines if seeded["run_ids"][0] in line]
    assert LONG_URL in failed_line and ERROR in failed_line  # the whole row on one line
    dead_lines = cli(settings, "dlq", "list").stdout.splitlines()
    assert {line.split()[0] for line in dead_lines[1:]} == set(seeded["dead"])  # `awk '{print $1}'` works


def test_the_import_summary_shows_every_feed_whole(settings, store, broker, workers: Workers) -> None:
    workers.start_both()
    path = f"/{uuid.uuid4().hex}/remote-engineering-and-data-science-jobs-worldwide.xml"
    with FeedServer({path: jobicy_feed(sample_jobs(3, seed=4))}) as server:
        url = server.url(path)
        for columns in (80, 200):
            screen = in_terminal(settings, columns, "import", "--feed", url, "--wait")
            assert screen.returncode == 0, screen.text
            assert url in screen.text and "completed" in screen.text and "…" not in screen.text
        piped = cli(settings, "import", "--feed", url, "--wait")
    assert piped.returncode == 0, piped.stderr
    [row] = [line for line in piped.stdout.splitlines() if url in line]
    assert row.split()[1:] == [
        "completed",
        "3",
        "0",
        "0",
        "3",
        "0",
        "0",
        "0",
        "0",
    ]  # the second import: unchanged
