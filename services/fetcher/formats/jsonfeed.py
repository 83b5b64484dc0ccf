"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1): ``items`` with ``id`` as identity.

1.1 renamed ``author`` to ``authors``; both are read (the first author's name is the company,
as for Atom). ``summary`` is the description, ``content_html`` (else ``content_text``) the
content, ``tags`` the categories.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin

from services.fetcher.formats import jsonitems
from services.fetcher.formats.document import Document


def values_for(top: Mapping[str, Any], document: Document) -> jsonitems.ToValues:
    def values(item: dict[str, Any]) -> dict[str, Any]:
        authors = item.get("authors") or ([item["author"]] if isinstance(item.get("author"), dict) else [])
        authors = authors if isinstance(authors, list) else []
        link = item.get("url") or item.get("external_url")
        return {
            "guid": item.get("id"),
            "link": urljoin(document.url, link) if isinstance(link, str) and document.url else link,
            "title": item.get("title"),
            "description": item.get("summary"),
            "content": item.get("content_html") or item.get("content_text"),
            "published": item.get("date_published") or item.get("date_modified"),
            "image_url": item.get("image") or item.get("banner_image"),
            "company": authors[0].get("name") if authors and isinstance(authors[0], dict) else None,
            "category": item.get("tags"),
        }

    return values


def version(top: Mapping[str, Any]) -> str:
    """The format name: ``jsonfeed11`` for ``"version": "https://jsonfeed.org/version/1.1"``."""
    number = str(top.get("version", "")).rstrip("/").rsplit("/", 1)[-1]
    return f"jsonfeed{number.replace('.', '')}"


FORMAT = jsonitems.JsonFormat(
    "jsonfeed",
    "a JSON Feed",
    "/items",
    values_for,
    naming=frozenset({"version"}),
    object_only=True,
    version=version,
)
