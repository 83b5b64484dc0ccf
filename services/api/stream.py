"""Live import progress: what changed in the run history since the last look.

Each event stream polls MongoDB (one indexed query per tick) and sends a ``progress`` event when
an active run's status or counts move, and a ``finished`` event once when a run completes or fails.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from job_importer import history
from job_importer.db import Store
from services.api.models import Run

POLL_SECONDS = 0.5
#: Runs created this long before a tick are looked at again: they may start and finish between ticks,
#: and workers' clocks may lag ours a little.
LOOKBACK = timedelta(seconds=5)
ACTIVE = ["queued", "fetching", "importing"]
_FIELDS = ("status", *history.OUTCOMES, "fetched", "duplicates", "chunks_accounted", "chunks_total")


class RunWatcher:
    """Turns successive looks at the history into (event name, run) pairs."""

    def __init__(self, store: Store, since: datetime) -> None:
        self.store = store
        self.since = since - LOOKBACK
        self.active: dict[str, tuple[Any, ...]] = {}  # run id -> what we last sent
        self.finished: dict[str, datetime] = {}  # run id -> created_at, until it leaves the lookback

    def poll(self) -> list[tuple[str, Run]]:
        tick = history.now()
        query = {
            "$or": [
                {"status": {"$in": ACTIVE}},
                {"_id": {"$in": list(self.active)}},
                {"created_at": {"$gte": self.since}},
            ]
        }
        events = []
        for doc in self.store.runs.find(query, {"failures": 0, "chunks_done": 0, "chunks_dead": 0}).sort(
            "created_at", 1
        ):
            run_id = doc["_id"]
            if run_id in self.finished:
                continue
            if doc["status"] in history.TERMINAL:
                self.active.pop(run_id, None)
                self.finished[run_id] = doc["created_at"]
                events.append(("finished", Run.from_doc(doc)))
                continue
            signature = tuple(doc.get(name) for name in _FIELDS)
            if self.active.get(run_id) != signature:
                self.active[run_id] = signature
                events.append(("progress", Run.from_doc(doc)))
        self.since = tick - LOOKBACK
        self.finished = {
            run_id: created for run_id, created in self.finished.items() if created >= self.since
        }
        return events
