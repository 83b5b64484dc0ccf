"""Items imported per interval (new, updated, unchanged, failed), for the UI's chart.

Read from the run history, which already has every count: each finished run adds its counts to
the interval it finished in. Good enough for a picture of the last hours (a long run's items
all land in its last interval); Prometheus' ``job_importer_items_total`` is the exact series.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from job_importer.db import Store
from job_importer.history import TERMINAL, now

COUNTS = ("new", "updated", "unchanged", "failed")
#: Runs read at most for one chart (a window of hourly runs of a few hundred feeds fits).
MAX_RUNS = 20_000


def items_per_interval(store: Store, *, hours: int, bucket_minutes: int) -> list[dict[str, Any]]:
    """One entry per interval of the last ``hours``, oldest first: its start and the counts of the
    runs that finished in it."""
    bucket = timedelta(minutes=bucket_minutes)
    end = now()
    start = end - timedelta(hours=hours)
    first = datetime.fromtimestamp(
        start.timestamp() // bucket.total_seconds() * bucket.total_seconds(), end.tzinfo
    )
    buckets: list[dict[str, Any]] = []
    at = first
    while at <= end:
        buckets.append({"start": at, "runs": 0, **dict.fromkeys(COUNTS, 0)})
        at += bucket
    runs = store.runs.find(
        {"finished_at": {"$gte": first}, "status": {"$in": list(TERMINAL)}},
        {"finished_at": 1, **dict.fromkeys(COUNTS, 1)},
    ).limit(MAX_RUNS)
    for run in runs:
        index = int((run["finished_at"] - first) / bucket)
        if 0 <= index < len(buckets):
            buckets[index]["runs"] += 1
            for name in COUNTS:
                buckets[index][name] += int(run.get(name) or 0)
    return buckets
