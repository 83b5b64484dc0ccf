"""The item-level dead letter: items that could not be imported, with the reason and an excerpt."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pymongo import DESCENDING, UpdateOne

from .db import Store
from .history import now

RAW_EXCERPT_CHARS = 2_000


@dataclass(frozen=True)
class ItemFailure:
    """Why one item was not imported. ``key`` identifies it within its run (guid or position)."""

    key: str
    reason: str
    guid: str | None = None
    raw: str = ""
    stage: str = "fetch"  # "fetch" (parse/normalise) or "import" (validation, store)
    payload: dict[str, Any] | None = field(default=None)  # the item as sent, when it can be re-sent

    def summary(self) -> dict[str, Any]:
        """The short form kept on the run record."""
        return {"guid": self.guid, "reason": self.reason}


def record(store: Store, run_id: str, feed_url: str, failures: Iterable[ItemFailure]) -> None:
    """Upsert failures under deterministic ids, so a retried chunk records each one once."""
    created = now()
    ops = [
        UpdateOne(
            {"_id": f"{run_id}:{failure.key}"},
            {
                "$set": {
                    "run_id": run_id,
                    "feed_url": feed_url,
                    "guid": failure.guid,
                    "reason": failure.reason,
                    "raw": failure.raw[:RAW_EXCERPT_CHARS],
                    "stage": failure.stage,
                    "payload": failure.payload,
                },
                "$setOnInsert": {"created_at": created},
            },
            upsert=True,
        )
        for failure in failures
    ]
    if ops:
        store.failed_items.bulk_write(ops, ordered=False)


def list_failed(
    store: Store, *, run_id: str | None = None, limit: int = 50, skip: int = 0
) -> list[dict[str, Any]]:
    query = {"run_id": run_id} if run_id else {}
    return list(store.failed_items.find(query).sort("created_at", DESCENDING).skip(skip).limit(limit))
