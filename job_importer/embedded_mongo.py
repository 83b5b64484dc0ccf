"""The embedded MongoDB stand-in (mongoeco's wire server), for when no MONGODB_URL is given.

Run as ``python -m job_importer.embedded_mongo --port N``; prints one line ``ready <port>`` on
stdout once it accepts connections, and serves until SIGTERM/SIGINT. Data lives in memory.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any


def _skip_scans_for_missing_ids(engine_class: Any) -> None:
    """Make an ``_id`` lookup that finds nothing cost O(1), as it does in MongoDB.

    mongoeco 4.11 answers ``{_id: <string>, ...}`` from its key map only when the document
    exists; otherwise it scans the whole collection, so every upsert of a new document is O(n)
    and a first import of n items O(n^2) (3,000 items took 55 s). A string ``_id`` matches only
    the document stored under that key (no collation is ever used here), so a miss is final.
    """
    original = engine_class._candidate_items_for_plan_locked

    def candidates(self: Any, coll: Any, query_plan: Any, **options: Any) -> Any:
        wanted = self._direct_id_lookup_from_plan(query_plan)
        if (
            isinstance(wanted, str)
            and options.get("collation") is None
            and coll.get(self._storage_key(wanted)) is None
        ):
            return []
        return original(self, coll, query_plan, **options)

    engine_class._candidate_items_for_plan_locked = candidates


async def serve(host: str, port: int) -> None:
    from mongoeco.engines.memory import MemoryEngine
    from mongoeco.wire import AsyncMongoEcoProxyServer

    _skip_scans_for_missing_ids(MemoryEngine)

    server = AsyncMongoEcoProxyServer(engine=MemoryEngine(), host=host, port=port)
    address = await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"ready {address.port}", flush=True)
    await stop.wait()
    await server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=27017)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
