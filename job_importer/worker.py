"""What every worker process sets up before its actors run."""

from __future__ import annotations

import threading
from collections.abc import Callable


class PerProcess[T]:
    """A value built on first use in each worker process (after Dramatiq has forked), thread-safe.

    Connections must not be shared across a fork, so actors build their context lazily.
    """

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._value: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        with self._lock:
            if self._value is None:
                self._value = self._build()
            return self._value
