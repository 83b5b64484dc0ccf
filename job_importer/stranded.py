"""Runs that can no longer complete, found and repaired: their messages are gone from Redis.

A run moves as messages move: its fetch, then its chunks. Redis losing its last writes (a power
loss with ``appendfsync everysec``, a restore from an older AOF) can lose those messages, and the
run then waits for ever ("importing", with chunks nobody will deliver). Worse, the feed's
validators were saved by the fetch, so the next import gets a 304 "not modified" and the lost
listings stay missing until the feed changes.

:func:`repair_stranded_runs` (the scheduler's housekeeping) takes each unfinished run that has not
moved for ``STRANDED_RUN_AFTER_S`` and looks for any message of it in Redis: ready, delayed or
claimed, in either queue, and among the dead letters (an operator may requeue those). A run with
none fails with the reason, and its feed's validators are dropped, so the next fetch is a full one
and puts back whatever was lost.

The search runs in Redis (a Lua script per page of ``HSCAN``): message bodies (up to 512 KB) never
travel, and it only happens when some run has been quiet for that long.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import cast

import redis
from dramatiq.common import dq_name, xq_name

from job_importer import history
from job_importer.db import Store
from job_importer.keys import Keys
from job_importer.settings import Settings

log = logging.getLogger(__name__)

REASON = (
    "lost: none of this run's messages are in Redis any more (Redis lost writes?) and it had not "
    "moved for {quiet} s; the feed's validators were dropped, so its next import is a full fetch"
)
#: Hash fields per HSCAN page searched by one script call.
PAGE = 200

_FIND = """
local page = redis.call('hscan', KEYS[1], ARGV[1], 'COUNT', ARGV[2])
local found = {}
local bodies = page[2]
for i = 2, #bodies, 2 do
  for j = 3, #ARGV do
    if string.find(bodies[i], ARGV[j], 1, true) then found[#found + 1] = ARGV[j] end
  end
end
return {page[1], found}
"""


def repair_stranded_runs(settings: Settings, store: Store, client: redis.Redis) -> list[str]:
    """Fail the runs that cannot complete any more and drop their feeds' validators; their ids."""
    quiet_since = history.now() - timedelta(seconds=settings.stranded_run_after_s)
    candidates = list(
        store.runs.find(
            {"status": {"$in": ["queued", "fetching", "importing"]}, **history.quiet_filter(quiet_since)},
            {"feed_url": 1},
        )
    )
    if not candidates:
        return []
    alive = runs_in_redis(client, settings, [str(run["_id"]) for run in candidates])
    repaired = []
    for run in candidates:
        run_id = str(run["_id"])
        if run_id in alive:
            continue
        reason = REASON.format(quiet=settings.stranded_run_after_s)
        if history.abandon_run(store, run_id, reason, quiet_since=quiet_since):
            store.feed_state.delete_one({"_id": run["feed_url"]})  # keyed by the redacted URL, as runs are
            log.warning("run %s of %s failed: %s", run_id, run["feed_url"], reason)
            repaired.append(run_id)
    return repaired


def message_hashes(settings: Settings) -> list[str]:
    """Every hash of message bodies: ready and claimed, delayed, dead; of both queues."""
    keys = Keys(settings.queue_namespace)
    return [
        keys.messages(name)
        for queue in (settings.fetch_queue, settings.import_queue)
        for name in (queue, dq_name(queue), xq_name(queue))
    ]


def runs_in_redis(client: redis.Redis, settings: Settings, run_ids: Iterable[str]) -> set[str]:
    """Those of ``run_ids`` that some message in Redis names."""
    wanted = {f'"{run_id}"': run_id for run_id in run_ids}
    found: set[str] = set()
    script = client.register_script(_FIND)
    for key in message_hashes(settings):
        cursor = b"0"
        while wanted.keys() - {f'"{run_id}"' for run_id in found}:
            needles = [needle for needle, run_id in wanted.items() if run_id not in found]
            next_cursor, hits = cast(list, script(keys=[key], args=[cursor, PAGE, *needles]))
            found.update(wanted[hit.decode() if isinstance(hit, bytes) else hit] for hit in hits)
            cursor = next_cursor
            if cursor in (b"0", 0, "0"):
                break
    return found
