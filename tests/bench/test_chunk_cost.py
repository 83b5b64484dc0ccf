"""The chunk-path benchmark runs end to end at a small size and reports what it should."""

from __future__ import annotations

import pytest

from bench import chunk_cost


def test_the_chunk_path_sends_one_write_per_chunk_and_one_more_for_seen_marks() -> None:
    results = chunk_cost.measure_once(items=200, batch_size=50, text="real", mongodb_url=None)
    assert set(results) == set(chunk_cost.SCENARIOS)
    first, again = (results[scenario] for scenario in chunk_cost.SCENARIOS)
    # Per chunk of 50: its bulk write and its accounting, and a few commands for the run's end;
    # the unchanged re-import adds exactly one write per chunk, the seen marks.
    assert 4 * 2 < first["store_commands_per_item"] * 200 < 4 * 2 + 8
    assert round((again["store_commands_per_item"] - first["store_commands_per_item"]) * 200) == 4
    for figures in (first, again):
        assert figures["own_cpu_s_per_1000_items"] > 0 and figures["store_cpu_s_per_1000_items"] > 0
        assert figures["update_bytes_per_item"] > 1000  # every item's content went to the store


def test_the_table_gives_both_scenarios_for_each_checkout(capsys: pytest.CaptureFixture[str]) -> None:
    chunk_cost.main(["--items", "100", "--batch-size", "50", "--runs", "1"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith(f"| {chunk_cost.ROOT} ")]
    assert [row.split("|")[2].strip() for row in rows] == list(chunk_cost.SCENARIOS)
    assert all(len(row.strip("|").split("|")) == 6 and " - " not in row for row in rows)
