"""Building a RawEntry from the values an adapter found, by job field name.

Every non-RSS adapter (and the per-feed mapping over it) collects ``{field: value}`` with the
names of :data:`job_importer.settings.MappedField`; :func:`raw_entry_from` turns values of any
JSON or XML shape into the RawEntry's types: text for text fields, datetimes for dates, the
category list. What an adapter doesn't map goes to ``extra`` (text values only).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from services.fetcher import jobfields
from services.fetcher.entries import RawEntry

_TEXT_FIELDS = (
    "guid", "link", "title", "description", "content", "image_url", "company", "location", "job_type",
    "country", "region", "city", "postal_code", "salary", "salary_currency", "salary_period", "apply_url",
)  # fmt: skip


def text(value: object) -> str:
    """The text of a JSON/XML value: strings as they are, numbers written out, lists joined."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    if isinstance(value, list):
        return ", ".join(part for part in (text(item) for item in value) if part)
    if isinstance(value, Mapping):
        for key in ("#text", "name", "label", "text", "value"):  # {"name": "Berlin"} and the like
            if key in value:
                return text(value[key])
    return ""


def unescaped(value: object) -> str:
    """Text whose HTML was entity-escaped once more (Greenhouse's ``content``)."""
    return html.unescape(text(value))


def raw_entry_from(values: Mapping[str, Any], extra: Mapping[str, object] | None = None) -> RawEntry:
    entry = RawEntry()
    for name in _TEXT_FIELDS:
        setattr(entry, name, text(values.get(name)))
    entry.published = jobfields.date(values.get("published"))
    entry.expires = jobfields.date(values.get("expires"))
    remote = values.get("remote")
    entry.remote = remote if isinstance(remote, bool) else text(remote) or None
    entry.salary_min = values.get("salary_min")
    entry.salary_max = values.get("salary_max")
    category = values.get("category")
    categories = category if isinstance(category, list) else [category]
    entry.categories = [name for name in (text(item) for item in categories) if name]
    if extra:
        entry.extra = {key: value for key, value in ((k, text(v)) for k, v in extra.items()) if value}
    return entry


def obj(value: object) -> dict[str, Any]:
    """A JSON object, or an empty one for anything else (a missing or null member)."""
    return value if isinstance(value, dict) else {}
