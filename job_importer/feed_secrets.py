"""A feed's request headers, their values looked up by name when the feed is fetched.

A feed names where each header's value is (``FeedConfig.headers``: header -> name), never the
value itself: feeds are stored in MongoDB, shown by the API and carried in Redis messages, and a
token must stay in the environment or in a mounted Secret. The fetcher resolves the names just
before it fetches: a file of that name in FEED_SECRETS_DIR (a Secret mounted as a directory, one
file per key) first, else an environment variable of that name. A name that is neither fails the
run with a reason saying which header and where it was looked for.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


class MissingSecret(Exception):
    """A header names a value that is nowhere to be found."""


def resolve_headers(
    headers: Mapping[str, str], secrets_dir: Path | None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The headers with their values; raises :class:`MissingSecret` naming the first one missing."""
    environ = os.environ if environ is None else environ
    resolved = {}
    for header, name in headers.items():
        value = _from_dir(secrets_dir, name)
        if value is None:
            value = environ.get(name)
        if value is None:
            where = f"no file {name!r} in FEED_SECRETS_DIR ({secrets_dir}) and " if secrets_dir else ""
            raise MissingSecret(f"header {header}: {where}no environment variable {name}")
        if "\r" in value or "\n" in value or not value.isascii():
            raise MissingSecret(f"header {header}: the value of {name} is not one line of ASCII text")
        resolved[header] = value
    return resolved


def _from_dir(secrets_dir: Path | None, name: str) -> str | None:
    """A Secret key's value: the file's text without the trailing newline an editor may add."""
    if secrets_dir is None:
        return None
    try:
        return (secrets_dir / name).read_text(encoding="utf-8").rstrip("\r\n")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
