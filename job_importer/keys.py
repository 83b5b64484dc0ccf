"""Every Redis key the system reads or writes, Dramatiq's and ours, named once.

All keys live under the broker's namespace (``QUEUE_NAMESPACE``, default ``dramatiq``), so one
Redis can serve several deployments. The first group is Dramatiq's own layout (its Redis broker,
``dramatiq/brokers/redis.py`` and ``dispatch.lua``): we read it for queue depth, dead letters and
the KEDA trigger, and must follow it exactly. The second group is ours; each is written by one
module, named beside it. The chart's KEDA ScaledObject names the same keys in YAML
(``charts/job-importer/templates/keda.yaml``; ``tests/deploy/test_keda_keys.py`` holds the two
together).

Dramatiq's (``q`` is a queue name; ``q.DQ`` is its delay queue, ``q.XQ`` its dead letters):

=================================  ========  ==============================================
``{ns}:{q}``                       list      ids of ready messages, in order
``{ns}:{q}.msgs``                  hash      id -> encoded message, for ready and claimed ones
``{ns}:{q}.DQ`` / ``.DQ.msgs``     list/hash the same for delayed messages (retries, ETA)
``{ns}:{q}.XQ`` / ``.XQ.msgs``     zset/hash dead letters: id by time of death / encoded message
``{ns}:__acks__.{worker}.{q}``     set       ids a worker has fetched and not yet acked
``{ns}:__heartbeats__``            zset      worker id by last heartbeat
=================================  ========  ==============================================

Ours:

==========================================  ====  ===================================================
``{ns}:__dead_reasons__``                   hash  dead message id -> why it died (deadletters)
``{ns}:__dead_accounted__``                 set   dead message ids reflected on their run (accounting)
``{ns}:__dead_summaries__``                 hash  dead message id -> actor, run, items, excerpt (deadletters)
``{ns}:__pending__:{q}``                    hash  item id -> hash|expiry|run, items waiting (pending)
``{ns}:__deliveries__``                     hash  message id -> deliveries that never finished (crashguard)
``{ns}:__paused__``                         set   paused queue names (control)
``{ns}:__workers__:{q}:{worker}``           str   a live worker's state, expires in seconds (control)
``{ns}:__schedule__:{slot}:{feed digest}``  str   a scheduler's claim of one feed's slot (scheduler)
``{ns}:__ratelimit__:{q}``                  str   chunk writes in the current window (importer)
``{ns}:__backlog__``                        zset  queue counts sampled over time, by time (backlog)
``{ns}:__backlog__:{slot}``                 str   an API process's claim of one sample slot (backlog)
``{ns}:__host__:{host}:leases``             zset  fetch slots held on one host: token by expiry (politeness)
``{ns}:__host__:{host}:next``               str   when the next request to the host may go, ms (politeness)
==========================================  ====  ===================================================
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, cast

from dramatiq.common import dq_name, q_name, xq_name

if TYPE_CHECKING:
    import redis
    from dramatiq.broker import Broker
    from dramatiq.brokers.redis import RedisBroker


@dataclass(frozen=True)
class Keys:
    """The keys of one namespace."""

    namespace: str

    # Dramatiq's layout.
    def ready(self, queue: str) -> str:
        return f"{self.namespace}:{q_name(queue)}"

    def messages(self, queue: str) -> str:
        """The message bodies of ``queue`` (pass ``dq_name(q)`` for its delayed ones)."""
        return f"{self.namespace}:{queue}.msgs"

    def delayed_messages(self, queue: str) -> str:
        return self.messages(dq_name(q_name(queue)))

    def dead(self, queue: str) -> str:
        return f"{self.namespace}:{xq_name(q_name(queue))}"

    def dead_messages(self, queue: str) -> str:
        return self.messages(xq_name(q_name(queue)))

    def claims(self, worker: str, queue: str) -> str:
        """Messages one worker (its broker id; ``*`` for all) has fetched from ``queue``."""
        return f"{self.namespace}:__acks__.{worker}.{queue}"

    def heartbeats(self) -> str:
        return f"{self.namespace}:__heartbeats__"

    # Ours.
    def dead_reasons(self) -> str:
        return f"{self.namespace}:__dead_reasons__"

    def dead_accounted(self) -> str:
        return f"{self.namespace}:__dead_accounted__"

    def dead_summaries(self) -> str:
        return f"{self.namespace}:__dead_summaries__"

    def pending(self, queue: str) -> str:
        return f"{self.namespace}:__pending__:{queue}"

    def deliveries(self) -> str:
        return f"{self.namespace}:__deliveries__"

    def paused(self) -> str:
        return f"{self.namespace}:__paused__"

    def presence(self, queue: str, worker: str = "*") -> str:
        return f"{self.namespace}:__workers__:{queue}:{worker}"

    def schedule_claim(self, slot: datetime, feed_url: str) -> str:
        digest = hashlib.sha256(feed_url.encode()).hexdigest()[:16]
        # To the second: croniter takes a sixth (seconds) field, and such slots must not share a claim.
        return f"{self.namespace}:__schedule__:{slot:%Y%m%dT%H%M%S}:{digest}"

    def rate_limit(self, queue: str) -> str:
        return f"{self.namespace}:__ratelimit__:{queue}"

    def backlog(self) -> str:
        return f"{self.namespace}:__backlog__"

    def backlog_slot(self, slot: int) -> str:
        return f"{self.namespace}:__backlog__:{slot}"

    def host_leases(self, host: str) -> str:
        """The fetch slots held on ``host`` (``name:port``, services/fetcher/politeness.py)."""
        return f"{self.namespace}:__host__:{host}:leases"

    def host_next_request(self, host: str) -> str:
        return f"{self.namespace}:__host__:{host}:next"


def redis_of(broker: Broker) -> redis.Redis:
    """The Redis client of the broker a middleware hook is given (always our Redis broker)."""
    return cast("RedisBroker", broker).client
