"""The wait of ``import --wait``: few looks at the runs, and the end seen soon after it comes."""

from __future__ import annotations

import pytest

from cli.polling import CEILING_S, FLOOR_S, Schedule, progress


def looks_until_seen(duration_s: float, fetch_s: float) -> tuple[int, float]:
    """Simulate an import of ``duration_s`` whose chunks are accounted at a steady rate after
    ``fetch_s``: how many looks it takes, and how late after the end the last one is."""
    elapsed, looks = 0.0, 0
    schedule = Schedule()
    while True:
        looks += 1
        if elapsed >= duration_s:
            return looks, elapsed - duration_s
        done = max(0.0, (elapsed - fetch_s) / (duration_s - fetch_s))
        elapsed += schedule.next_delay(elapsed, done)


def test_a_long_import_is_looked_at_a_few_dozen_times_not_four_times_a_second() -> None:
    looks, late = looks_until_seen(20.0, fetch_s=3.0)
    assert looks < 40  # 80 at the former fixed 4 Hz
    assert late <= CEILING_S


def test_a_short_import_is_seen_finished_soon() -> None:
    _, late = looks_until_seen(1.0, fetch_s=0.3)
    assert late <= 0.3


def test_the_delay_follows_the_rate_of_progress_within_its_bounds() -> None:
    schedule = Schedule()
    assert schedule.next_delay(0.0, 0.0) == FLOOR_S
    assert schedule.next_delay(600.0, 0.0) == CEILING_S
    assert schedule.next_delay(2.0, 0.1) == FLOOR_S  # progress seen first: look again soon
    assert schedule.next_delay(3.0, 0.3) == pytest.approx((1 - 0.3) / 0.2 / 2)  # half the time left
    assert schedule.next_delay(3.5, 0.9) == pytest.approx((1 - 0.9) / (0.8 / 1.5) / 2)
    assert schedule.next_delay(3.6, 0.1) == pytest.approx(0.8)  # no progress since: half that time
    assert schedule.next_delay(60.0, 0.1) == CEILING_S
    assert schedule.next_delay(4.0, 0.999) == FLOOR_S


def test_progress_counts_finished_runs_and_the_chunks_of_the_others() -> None:
    runs = [
        {"status": "completed", "chunks_total": 4, "chunks_accounted": 4},
        {"status": "importing", "chunks_total": 4, "chunks_accounted": 1},
        {"status": "fetching", "chunks_total": None, "chunks_accounted": 0},
    ]
    assert progress(runs, 4) == (1 + 0.25) / 4  # the fourth run not even listed yet
    assert progress([], 0) == 1.0
