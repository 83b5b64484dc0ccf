"""Per-feed field mappings: job field -> where its value is in an item (docs/formats.md#mapping).

Items of every format except ``rss`` are read as trees of dicts and lists (XML elements become
dicts by local name, lower-cased: repeated children a list, attributes ``@name``, text beside
children ``#text``), so one path syntax serves both:

* a JSON pointer (RFC 6901) such as ``/company/name`` or ``/locations/0/city``;
* an element path such as ``company/name``, ``location/@city`` or ``@id`` (XML).

A step into a list without an index takes its first element. ``fields`` of a feed are applied
over the format's own defaults; ``items`` says where the list of items is (JSON pointer or
element path from the root element) for the generic ``json`` and ``xml`` formats.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_MISSING = object()


def steps(path: str) -> list[str]:
    """A path's steps, unescaped (``~1`` is ``/``, ``~0`` is ``~``); none for the root."""
    if path.strip() in ("", "/", "."):
        return []
    return [raw.replace("~1", "/").replace("~0", "~") for raw in path.strip().removeprefix("/").split("/")]


def resolve(tree: object, path: str, *, lower: bool = False) -> Any:
    """The value at ``path`` in ``tree``; None when any step is missing."""
    node: Any = tree
    for step in steps(path):
        if lower and not step.startswith("#"):
            step = step.lower()
        if isinstance(node, list):
            if step.isdigit():
                index = int(step)
                node = node[index] if index < len(node) else None
                continue
            node = node[0] if node else None
        if isinstance(node, Mapping):
            node = node.get(step, _MISSING)
            if node is _MISSING:
                return None
        else:
            return None
    return node


def mapped(item: object, fields: Mapping[Any, str], *, lower: bool = False) -> dict[str, Any]:
    """The values a feed's mapping picks out of one item (fields whose path finds nothing: None)."""
    return {name: resolve(item, path, lower=lower) for name, path in fields.items()}


def first(item: Mapping[str, Any], *keys: str) -> Any:
    """The first of ``keys`` with a non-empty value in the item (the format's element aliases)."""
    for key in keys:
        value = item.get(key)
        if value not in (None, "", [], {}):
            return value
    return None
