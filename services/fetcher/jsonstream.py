"""Reading a JSON document's list of items an item at a time, in memory that does not grow with it.

``json.loads`` holds the document's text and every object built from it at once. Here ijson's
events (its yajl2 C backend when the wheel has one) are walked down the items pointer, each item
is built when its last event is read and handed on, and nothing else is kept but the few
top-level members the format reads (Workable's ``name``, JSON Feed's ``version``).

The streamed path must read exactly what ``json.loads`` would, or say it can't
(:class:`StepAside`, and the document is read whole instead):

* numbers as ``json.loads`` gives them (``use_float``: ints and floats, no Decimals); an integer
  or float yajl can't hold (beyond 64 bits, ``1e400``) steps aside;
* a document with UTF-16 surrogate escapes (``\\ud83d``) is read by ijson's pure-Python backend,
  which keeps a lone surrogate as ``json.loads`` does (yajl gives "?");
* the pointer is followed through objects only; a step through a list (where the JSON pointer
  rules pick an element), a repeated member on the way (``json.loads`` keeps the last one) or a
  document without a list there steps aside, and the whole-document path gives its error;
* a ``context`` member (one the items' values depend on) that comes after the first item steps
  aside;
* malformed JSON steps aside ``malformed``: the items before the error were complete.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import IO, Any

import ijson

from services.fetcher.formats.mapping import steps


def _backend(name: str) -> types.ModuleType | None:
    try:
        return ijson.get_backend(name)
    except ImportError:  # no C extension in this wheel (or no yajl on this system)
        return None


#: The exact pure-Python backend, and the fastest one this install has (yajl2_c in the wheels).
EXACT = ijson.get_backend("python")
FAST = _backend("yajl2_c") or EXACT
BACKEND = FAST.backend_name

_STARTS = frozenset({"start_map", "start_array"})
_ENDS = frozenset({"end_map", "end_array"})


class StepAside(Exception):
    """The document can't be read here as json.loads reads it. ``malformed``: it is not
    well-formed JSON (the items before the error were complete)."""

    def __init__(self, reason: str, *, malformed: bool = False) -> None:
        super().__init__(reason)
        self.malformed = malformed


class JsonItems:
    """The items of the list at ``pointer`` in the document read from ``file``, one at a time.

    ``top`` holds the top-level members named in ``members`` once read; ``context`` (a subset)
    must come before the list. ``object_only``: the document must be an object.
    """

    def __init__(
        self,
        file: IO[bytes],
        pointer: str,
        *,
        members: frozenset[str] = frozenset(),
        context: frozenset[str] = frozenset(),
        object_only: bool = False,
        exact_strings: bool = False,
    ) -> None:
        self.file = file
        self.pointer = pointer
        self.top: dict[str, Any] = {}
        self.count = 0  # items read so far
        self._steps = steps(pointer)
        self._members = members | context
        self._context = context
        self._object_only = object_only
        self._backend = EXACT if exact_strings else FAST
        self._found = False

    def __iter__(self) -> Iterator[Any]:
        events = iter(self._backend.basic_parse(self.file, use_float=True))
        try:
            event, _ = next(events)
            if event != "start_map" and (self._object_only or self._steps):
                raise StepAside("the document is not an object")
            if event != "start_array" and not self._steps:
                raise StepAside("the document is not a list")
            if self._steps:
                yield from self._map(events, 0)
            else:
                self._found = True
                yield from self._array(events)
            for _ in events:  # the end of the document: trailing garbage is an error
                pass
        except ijson.JSONError as exc:
            message = _message(exc)
            if "overflow" in message or "overflow" in str(exc.__context__):  # the pure-Python one's
                # yajl's integers beyond 64 bits, floats beyond 1.8e308: json.loads reads them
                raise StepAside(f"a number beyond what the stream reads ({message})") from None
            if "codec can't decode" in message:  # the pure-Python one's UnicodeDecodeError
                raise StepAside(f"text json.loads decodes otherwise ({message})") from None
            raise StepAside(
                f"not well-formed JSON ({message}, after {self.count:,} items)", malformed=True
            ) from None
        except UnicodeDecodeError as exc:  # UTF-8 of a surrogate: json.loads lets it pass
            raise StepAside(f"text json.loads decodes otherwise ({exc})") from None
        except RecursionError:
            raise StepAside("an item nested too deeply to build here") from None
        if not self._found:
            raise StepAside(f"no list of items at {self.pointer or 'the top level'!r}")

    def _map(self, events: Iterator[tuple[str, Any]], level: int) -> Iterator[Any]:
        """The members of an object on the pointer's way (``level``: its depth)."""
        step, last, seen = self._steps[level], level == len(self._steps) - 1, False
        for event, key in events:
            if event == "end_map":
                return
            event, value = next(events)
            if key == step:
                if seen:
                    raise StepAside(f"the document has {key!r} twice (json.loads keeps the last)")
                seen = True
                if last and event == "start_array":
                    self._found = True
                    yield from self._array(events)
                elif not last and event == "start_map":
                    yield from self._map(events, level + 1)
                elif not last and event == "start_array":
                    raise StepAside(f"the items pointer {self.pointer!r} steps through a list")
                elif event in _STARTS:
                    _skip(events)
            elif level == 0 and key in self._members:
                if self.count and key in self._context:
                    raise StepAside(f"{key!r} comes after the items it applies to")
                self.top[key] = _build(events, event, value)
            elif event in _STARTS:
                _skip(events)

    def _array(self, events: Iterator[tuple[str, Any]]) -> Iterator[Any]:
        for event, value in events:
            if event == "end_array":
                return
            item = _build(events, event, value)
            self.count += 1
            yield item


def _build(events: Iterator[tuple[str, Any]], event: str, value: Any) -> Any:
    """The value whose first event is ``event``: dicts and lists as json.loads builds them."""
    if event == "start_map":
        built: dict[str, Any] = {}
        for event, key in events:
            if event == "end_map":
                return built
            event, value = next(events)
            built[key] = _build(events, event, value) if event in _STARTS else value
    elif event == "start_array":
        items: list[Any] = []
        for event, value in events:
            if event == "end_array":
                return items
            items.append(_build(events, event, value) if event in _STARTS else value)
    return value


def _skip(events: Iterator[tuple[str, Any]]) -> None:
    """Past the rest of a container whose start was read."""
    depth = 1
    for event, _ in events:
        if event in _STARTS:
            depth += 1
        elif event in _ENDS:
            depth -= 1
            if depth == 0:
                return


def _message(exc: Exception) -> str:
    """ijson's reason, first line only (yajl's next lines point at the text)."""
    reason = exc.args[0] if exc.args else exc
    text = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
    return text.strip().splitlines()[0].rstrip(".") if text.strip() else type(exc).__name__
