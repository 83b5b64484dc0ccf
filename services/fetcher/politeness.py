"""Politeness per host, across every fetcher: at most N fetches at once, and a least interval
between two requests to one host.

The default feed list has eight feeds on one host, and a registry may hold hundreds of an ATS's
boards on one API host; without a limit every fetcher thread hits it at the same moment. So:

* **Slots.** A fetch takes one of the host's ``FETCH_PER_HOST_CONCURRENCY`` slots before its first
  request and gives it back once its document (every page of it) has been read. A slot is a lease
  in a sorted set (token by expiry, :meth:`Keys.host_leases`): a fetcher killed with its slot held
  holds it only until the lease expires, never for ever. A live holder renews its lease at each
  request (:meth:`HostLimiter.pace`), and a request lasts at most ``FETCH_TOTAL_TIMEOUT_S``, so
  the lease (twice that, plus 30 s) outlives any request.
* **Interval.** The host's next allowed request time (:meth:`Keys.host_next_request`) is moved on
  by ``FETCH_PER_HOST_INTERVAL_MS`` at each request: a new fetch starts only once it has passed,
  and a request of a fetch under way (a further page of a paginated API, a redirect to the same
  host) reserves the next free time and sleeps until then. At most N fetches reserve, so that
  sleep is under N intervals.

Both are one Lua script call each, on Redis's clock (``TIME``), so replicas with skewed clocks
agree. Requests to other hosts (a redirect elsewhere) are not limited.

A fetch that finds no slot within :data:`WAIT_S` is not failed and does not hold its worker
thread: the actor sends its message again with a delay (``actors.py``), the run stays queued,
and no retry is spent.
"""

from __future__ import annotations

import logging
import secrets
import time
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import cast

import httpx
import redis

from job_importer.keys import Keys
from job_importer.settings import Settings

log = logging.getLogger(__name__)

#: How long a fetch waits in its thread for a slot before its message is delayed instead.
WAIT_S = 2.0
#: Pause between two tries for a busy slot while waiting (the interval's own wait is exact).
POLL_S = 0.05
#: The delay of a fetch message whose host stayed busy: from this, up to twice it (spread out, so
#: the waiting fetches of one host do not all come back in the same instant).
DELAY_MS = 1000

# KEYS: leases, next request time. ARGV: token, slots (0: unlimited), lease ms, interval ms.
# Returns {1, 0} when the slot is taken; {0, ms} when not: -1 for no free slot, else the ms until
# the interval has passed.
_ACQUIRE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local slots, lease, interval = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if slots > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  if redis.call('ZCARD', KEYS[1]) >= slots then return {0, -1} end
end
local next = tonumber(redis.call('GET', KEYS[2]) or '0')
if next > now then return {0, next - now} end
if slots > 0 then
  redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], lease)
end
if interval > 0 then redis.call('SET', KEYS[2], now + interval, 'PX', interval) end
return {1, 0}
"""

# KEYS: leases, next request time. ARGV: token, lease ms, interval ms. Reserves the next request
# time and renews the lease (if it is still held); returns the ms to wait for that time.
_PACE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local lease, interval = tonumber(ARGV[2]), tonumber(ARGV[3])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], lease)
end
if interval <= 0 then return 0 end
local at = math.max(now, tonumber(redis.call('GET', KEYS[2]) or '0'))
redis.call('SET', KEYS[2], at + interval, 'PX', at + interval - now)
return at - now
"""


class HostBusy(Exception):
    """The feed's host had no free slot: send the fetch again after ``delay_ms``."""

    def __init__(self, host: str, delay_ms: int) -> None:
        super().__init__(f"{host} is at its limit of fetches at once; trying again in {delay_ms} ms")
        self.host = host
        self.delay_ms = delay_ms


def host_key(url: str | httpx.URL) -> str | None:
    """What the limits count by: the URL's host, lowercased, and port (the scheme's default when
    none is given); None when the URL has no host (the download says why it fails)."""
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return None
    host = parsed.host.lower()
    if not host:
        return None
    port = parsed.port or {"http": 80, "https": 443}.get(parsed.scheme, 0)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass
class Lease:
    """One fetch's slot on one host (``token`` None: the host is not limited by slots)."""

    limiter: HostLimiter
    host: str
    token: str
    first_request_due: bool = True  # its first request's time was reserved by the acquisition
    released: bool = field(default=False, repr=False)
    _entered: Token[Lease | None] | None = field(default=None, repr=False)

    def release(self) -> None:
        """Give the slot back (again: nothing). An error is logged: the lease expires anyway."""
        if self.released:
            return
        self.released = True
        try:
            self.limiter.release(self)
        except redis.RedisError as error:
            log.warning("could not release the slot on %s (it expires by itself): %s", self.host, error)

    def __enter__(self) -> Lease:
        self._entered = _held.set(self)  # what this thread's requests are paced by (pace_request)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._entered is not None:
            _held.reset(self._entered)
            self._entered = None
        self.release()


_held: ContextVar[Lease | None] = ContextVar("host_lease", default=None)


class HostLimiter:
    """The per-host slots and intervals of one namespace, in Redis."""

    def __init__(
        self, client: redis.Redis, namespace: str, *, slots: int, interval_ms: int, lease_ms: int
    ) -> None:
        self.client = client
        self.keys = Keys(namespace)
        self.slots = slots
        self.interval_ms = interval_ms
        self.lease_ms = lease_ms
        self._acquire = client.register_script(_ACQUIRE)
        self._pace = client.register_script(_PACE)

    @classmethod
    def for_settings(cls, client: redis.Redis, settings: Settings) -> HostLimiter:
        return cls(
            client,
            settings.queue_namespace,
            slots=settings.fetch_per_host_concurrency,
            interval_ms=settings.fetch_per_host_interval_ms,
            lease_ms=int((2 * settings.fetch_total_timeout_s + 30) * 1000),
        )

    @property
    def enabled(self) -> bool:
        return self.slots > 0 or self.interval_ms > 0

    def try_acquire(self, host: str) -> tuple[Lease | None, int]:
        """A slot on ``host`` now, or None and the ms until the interval has passed (-1: no slot)."""
        token = secrets.token_hex(8)
        taken, wait_ms = cast(
            list[int],
            self._acquire(keys=self._keys(host), args=[token, self.slots, self.lease_ms, self.interval_ms]),
        )
        return (Lease(self, host, token), 0) if taken else (None, int(wait_ms))

    def acquire(self, url: str, wait_s: float = WAIT_S) -> Lease | None:
        """A slot on the URL's host, waiting up to ``wait_s``; None when the host stayed busy. A
        URL without a host, or limits switched off, get a lease that limits nothing."""
        host = host_key(url)
        if host is None or not self.enabled:
            return Lease(self, host or "", "", first_request_due=False, released=True)
        deadline = time.monotonic() + wait_s
        while True:
            lease, wait_ms = self.try_acquire(host)
            if lease is not None:
                return lease
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            time.sleep(min(left, POLL_S if wait_ms < 0 else wait_ms / 1000))

    def pace(self, lease: Lease) -> float:
        """Reserve the next request time of the lease's host and renew the lease; the seconds
        until that time."""
        waited = self._pace(keys=self._keys(lease.host), args=[lease.token, self.lease_ms, self.interval_ms])
        return int(cast(int, waited)) / 1000

    def release(self, lease: Lease) -> None:
        self.client.zrem(self.keys.host_leases(lease.host), lease.token)

    def held(self, host: str) -> int:
        """The leases held on ``host`` now, expired ones excepted (for tests and operators)."""
        return int(self.client.zcount(self.keys.host_leases(host), f"({self._now_ms()}", "+inf"))

    def _now_ms(self) -> int:
        seconds, micros = cast(tuple[int, int], self.client.time())
        return seconds * 1000 + micros // 1000

    def _keys(self, host: str) -> list[str]:
        return [self.keys.host_leases(host), self.keys.host_next_request(host)]


def delay_ms() -> int:
    """The delay of a fetch whose host stayed busy: :data:`DELAY_MS` to twice it."""
    return DELAY_MS + secrets.randbelow(DELAY_MS + 1)


def pace_request(request: httpx.Request) -> None:
    """An httpx request hook: a request to the host of the lease held on this thread waits for
    its turn (:meth:`HostLimiter.pace`). Every request counts: the first (reserved when the slot
    was taken), further pages, and redirects to the same host."""
    lease = _held.get()
    if lease is None or lease.released or host_key(request.url) != lease.host:
        return
    if lease.first_request_due:
        lease.first_request_due = False
        return
    wait = lease.limiter.pace(lease)
    if wait > 0:
        time.sleep(wait)
