"""Refusing a feed whose internal XML entities would expand too far, before any parser runs.

Both parse paths call :func:`check_entity_expansion` first. feedparser keeps the internal
entities whose values are plain text and lets expat expand them (its loose parser expands them
itself); expat's only defence is its amplification rule (output at most 100 times the input,
once past 8 MiB), which padding defeats: 4 MB of comments admit 4,000 references to a 100 KB
entity, a 400,000,000-character description and a fetcher at 2 GB. libxml2 on the fast path is
configured not to substitute entities at all (``resolve_entities=False``, ``huge_tree`` off)
and that path steps aside for any DOCTYPE, but it refuses such a feed the same way, so both
paths tell the run the same reason.

The count is conservative and cheap: a document without ``<!ENTITY`` costs one search. For each
general entity declared with a literal value, its replacement length (references to other
declared entities included, to any depth) is multiplied by the references to it anywhere in
the body; the sum may not exceed :data:`MAX_EXPANSION` characters. Real feeds declare a few
short entities, if any, and stay orders of magnitude below.
"""

from __future__ import annotations

import re
from collections import Counter

from services.fetcher.entries import FeedParseError

#: How every lxml parser of ours is set up: no entity substitution, no DTD or network fetch, no
#: huge trees, and no comments or processing instructions kept (feedparser ignores them too).
LXML_OPTIONS: dict[str, bool] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}

#: The most characters a document's internal entities may expand to, in all.
MAX_EXPANSION = 1_000_000
#: Deeper nesting of entities than this is refused outright.
MAX_DEPTH = 16

_DECLARATION = re.compile(rb"""<!ENTITY\s+([^\s%"'>]+)\s+(?:"([^"]*)"|'([^']*)')""")
_REFERENCE = re.compile(rb"&([^\s&;<>\"'#]+);")


def check_entity_expansion(body: bytes, limit: int = MAX_EXPANSION) -> None:
    """Raise :class:`FeedParseError` when ``body``'s internal entities would expand to more than
    ``limit`` characters."""
    expansion = entity_expansion(body, limit)
    if expansion > limit:
        raise FeedParseError(
            f"its internal XML entities would expand to more than {limit:,} characters; refused"
        )


def entity_expansion(body: bytes, limit: int = MAX_EXPANSION) -> int:
    """How many characters the internal entities of ``body`` expand to (counting stops just past
    ``limit``)."""
    if b"<!ENTITY" not in body:
        return 0
    values: dict[bytes, bytes] = {}
    for match in _DECLARATION.finditer(body):
        values.setdefault(match.group(1), match.group(2) if match.group(2) is not None else match.group(3))
    if not values:
        return 0
    over = limit + 1
    lengths: dict[bytes, int] = {}

    def length(name: bytes, depth: int) -> int:
        if name in lengths:
            return lengths[name]
        if depth > MAX_DEPTH:
            return over  # also what a cycle comes to
        value = values[name]
        size = len(value)
        for reference, count in Counter(_REFERENCE.findall(value)).items():
            if reference in values:
                size = min(over, size + count * length(reference, depth + 1))
        lengths[name] = size
        return size

    total = 0
    for reference, count in Counter(_REFERENCE.findall(body)).items():
        if reference in values:
            total = min(over, total + count * length(reference, 0))
    return total
