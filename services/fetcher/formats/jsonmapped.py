"""Any JSON document, read with the feed's own mapping: ``items`` (a JSON pointer to the list
of items; the document itself when it is a list) and ``fields`` (job field -> JSON pointer)."""

from __future__ import annotations

from typing import Any

from services.fetcher.formats import jsonitems


def _nothing(item: dict[str, Any]) -> dict[str, Any]:
    return {}


FORMAT = jsonitems.JsonFormat("json", "a list of items", "", jsonitems.fixed(_nothing), needs_fields=True)
