"""The shared rate limit, against real Redis."""

from __future__ import annotations

import threading
from collections import Counter

from services.importer.ratelimit import RateLimiter


def test_no_window_admits_more_than_the_limit_across_threads(redis_client, settings) -> None:
    window_ms = 300
    limiter = RateLimiter(redis_client, f"{settings.queue_namespace}:rl", limit=3, window_ms=window_ms)
    admitted: list[int] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(4):
            window = limiter.wait()  # the window the shared counter admitted this call in
            assert window is not None
            with lock:
                admitted.append(window)

    threads = [threading.Thread(target=take) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    per_window = Counter(admitted)
    assert len(admitted) == 12
    assert max(per_window.values()) <= 3
    assert len(per_window) >= 4


def test_zero_means_no_limit(redis_client, settings) -> None:
    limiter = RateLimiter(redis_client, f"{settings.queue_namespace}:rl0", limit=0, window_ms=1000)
    for _ in range(50):
        assert limiter.wait() is None
    assert redis_client.keys(f"{settings.queue_namespace}:rl0*") == []
