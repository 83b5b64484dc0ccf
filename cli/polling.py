"""How long ``import --wait`` sleeps between looks at its runs: less often while much remains.

Polling at a fixed 4 Hz cost the store a round trip every 0.25 s for the whole import (0.008
round trips per item on a 10,000-item, 20 s import, a third of what the workers send) and the
command CPU. Instead the next look is timed from the progress so far: half the time the
remaining chunks should take at the rate seen since progress began, between ``FLOOR_S`` and
``CEILING_S``. While there is no progress yet (the feeds are being fetched) the wait grows with
the time elapsed. So an import is looked at a few dozen times rather than four times a second (33 for a
simulated 20 s import, tests/cli/test_polling.py), and its end is seen within about half the
error of the estimate, at least every ``CEILING_S``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from job_importer import history

FLOOR_S = 0.05
CEILING_S = 2.0


def progress(runs: Iterable[Mapping[str, Any]], total_runs: int) -> float:
    """The share of the batch's work done, 0..1: finished runs, and chunks of the others."""
    done = 0.0
    for run in runs:
        if run.get("status") in history.TERMINAL:
            done += 1
        elif run.get("chunks_total"):
            done += min(int(run.get("chunks_accounted") or 0) / int(run["chunks_total"]), 1.0)
    return done / total_runs if total_runs else 1.0


def _bounded(seconds: float) -> float:
    return min(max(seconds, FLOOR_S), CEILING_S)


class Schedule:
    """The delays of one wait: timed from the rate of progress since it was first seen."""

    def __init__(self) -> None:
        self._first: tuple[float, float] | None = None  # (elapsed, done) at the first progress

    def next_delay(self, elapsed_s: float, done: float) -> float:
        """Seconds to sleep, ``elapsed_s`` into the wait with ``done`` (0..1) of it done."""
        if done <= 0:
            return _bounded(elapsed_s / 4)
        if self._first is None:
            self._first = (elapsed_s, done)
            return FLOOR_S
        since, done_then = self._first
        if done <= done_then:
            return _bounded((elapsed_s - since) / 2)
        rate = (done - done_then) / (elapsed_s - since)
        return _bounded((1 - done) / rate / 2)
