"""The embedded MongoDB stand-in (mongoeco's wire server), for when no MONGODB_URL is given.

Run as ``python -m devstack.embedded_mongo --port N``; prints one line ``ready <port>`` on
stdout once it accepts connections, and serves until SIGTERM/SIGINT. Data lives in memory.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any


def _look_up_ids_directly(engine_class: Any) -> None:
    """Answer queries on string ``_id`` values from the key map, as MongoDB does from its _id index.

    mongoeco 4.11 uses its key map for ``{_id: s}`` only when the document exists, and never for
    ``{_id: {$in: [...]}}``: it scans the whole collection instead. Every upsert of a new listing
    and every chunk's read of what exists was O(n), a first import O(n^2): 3,000 upserts took 55 s
    (6 s with this), and 20,000 listings took minutes per chunk read. A string ``_id`` matches only
    the document stored under that key (no collation is used here); the query is still applied
    to the candidates, so this only narrows them.
    """
    from mongoeco.core.query_plan import AndCondition, EqualsCondition, InCondition

    original = engine_class._candidate_items_for_plan_locked

    def string_ids(query_plan: Any) -> tuple[str, ...] | None:
        for node in query_plan.clauses if isinstance(query_plan, AndCondition) else (query_plan,):
            if isinstance(node, EqualsCondition) and node.field == "_id" and isinstance(node.value, str):
                return (node.value,)
            if isinstance(node, InCondition) and node.field == "_id":
                values = tuple(value for value in node.values if isinstance(value, str))
                if len(values) == len(node.values):
                    return values
        return None

    def candidates(self: Any, coll: Any, query_plan: Any, **options: Any) -> Any:
        ids = string_ids(query_plan)
        if ids is None or options.get("collation") is not None:
            return original(self, coll, query_plan, **options)
        keys = dict.fromkeys(self._storage_key(value) for value in ids)
        return [(key, data) for key in keys if (data := coll.get(key)) is not None]

    engine_class._candidate_items_for_plan_locked = candidates


async def serve(host: str, port: int) -> None:
    from mongoeco.engines.memory import MemoryEngine
    from mongoeco.wire import AsyncMongoEcoProxyServer

    _look_up_ids_directly(MemoryEngine)

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
