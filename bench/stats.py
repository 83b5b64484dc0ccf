"""Summaries of repeated measurements."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def summary(samples: Sequence[float]) -> dict[str, float | list[float]]:
    """Median, min and max of some runs, with the runs themselves."""
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "runs": list(samples),
    }
