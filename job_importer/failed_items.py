"""The item-level dead letter: items that could not be imported, with the reason and an excerpt."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pymongo import DESCENDING, UpdateOne

from job_importer.db import Store
from job_importer.history import now
from job_importer.redact import redact

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

    def __post_init__(self) -> None:
        # A failure describes bad input, which may not be storable as it is (a hostile message can
        # carry lone surrogates, or "$"/"."/NUL in field names): recording it must never fail too.
        for name in ("key", "reason", "raw"):
            object.__setattr__(self, name, storable(getattr(self, name)))
        if self.guid is not None:
            object.__setattr__(self, "guid", storable(self.guid))
        if self.payload is not None and not _storable_value(self.payload):
            object.__setattr__(self, "payload", None)  # the excerpt in `raw` still shows it

    def summary(self) -> dict[str, Any]:
        """The short form kept on the run record."""
        return {"guid": self.guid, "reason": self.reason}


def storable(text: str) -> str:
    """``text`` with lone surrogates (not encodable as UTF-8, so not as BSON) written out as escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _storable_value(value: Any) -> bool:
    """Whether MongoDB stores ``value`` as it is: valid text, and field names without "$", "." or NUL."""
    if isinstance(value, str):
        return storable(value) == value
    if isinstance(value, dict):
        return all(
            isinstance(key, str)
            and storable(key) == key
            and not key.startswith("$")
            and "." not in key
            and "\x00" not in key
            and _storable_value(item)
            for key, item in value.items()
        )
    if isinstance(value, list):
        return all(_storable_value(item) for item in value)
    return value is None or isinstance(value, bool | int | float)


def record(
    store: Store,
    run_id: str,
    feed_url: str,
    failures: Iterable[ItemFailure],
    *,
    attempt: int | None = None,
) -> None:
    """Upsert failures under deterministic ids, so a retried chunk records each one once.

    ``attempt`` (the fetch attempt that found them) is part of the id of fetch-stage failures:
    their keys are entry positions, which mean other entries once the feed has changed, so the
    failures of two attempts are kept apart and the earlier ones dropped (:func:`drop_earlier_attempts`).
    """
    created = now()
    prefix = run_id if attempt is None else f"{run_id}:{attempt}"
    ops = [
        UpdateOne(
            {"_id": f"{prefix}:{failure.key}"},
            {
                "$set": {
                    "run_id": run_id,
                    "key": failure.key,
                    "attempt": attempt,
                    "feed_url": redact(feed_url),
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


def drop_earlier_attempts(store: Store, run_id: str, attempt: int) -> None:
    """Delete the run's fetch-stage failures of attempts before ``attempt`` (and of none recorded).

    A fetch attempt that died after recording its failures but before it finished the fetch left
    them behind; the next attempt drops them before it records its own, so the run's ``failed``
    count and its failed items agree. The first attempt has none before it: no round trip.
    """
    if attempt <= 1:
        return
    store.failed_items.delete_many(
        {"run_id": run_id, "stage": "fetch", "$or": [{"attempt": {"$lt": attempt}}, {"attempt": None}]}
    )


def drop_attempt(store: Store, run_id: str, attempt: int) -> None:
    """Delete the fetch-stage failures of one attempt (a stale one, whose fetch was not taken)."""
    store.failed_items.delete_many({"run_id": run_id, "stage": "fetch", "attempt": attempt})


def list_failed(
    store: Store, *, run_id: str | None = None, limit: int = 50, skip: int = 0
) -> list[dict[str, Any]]:
    query = {"run_id": run_id} if run_id else {}
    return list(store.failed_items.find(query).sort("created_at", DESCENDING).skip(skip).limit(limit))
