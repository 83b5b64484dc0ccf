"""The MongoDB stand-in for the benchmark: devstack.embedded_mongo with one fix.

mongoeco 4.11's in-memory engine looks a document up by ``_id`` directly only when it exists;
for a missing one (every upsert that inserts) and for ``_id: {$in: [...]}`` it scans the whole
collection, so an import slows down with the size of the collection (measured: 1,400 upserts/s
into an empty collection, 76/s at 2,500 documents). Here string ``_id`` lookups that miss
return no candidates, as on MongoDB, and ``$in`` over string ids looks each one up. The
engine's results are unchanged; only the scan is skipped. Run as
``python -m bench.standin --port N`` (same output as devstack.embedded_mongo).
"""

from __future__ import annotations

from typing import Any

from mongoeco.core.query_plan import AndCondition, InCondition
from mongoeco.engines import memory
from mongoeco.engines._memory_collection import MemoryCollection

from devstack import embedded_mongo

_candidates = memory.MemoryEngine._candidate_items_for_plan_locked


def _ids_in(plan: Any) -> tuple[str, ...] | None:
    clauses = plan.clauses if isinstance(plan, AndCondition) else (plan,)
    for clause in clauses:
        if isinstance(clause, InCondition) and clause.field == "_id":
            ids = tuple(value for value in clause.values if isinstance(value, str))
            return ids if len(ids) == len(clause.values) else None
    return None


def _candidates_by_id(self: Any, coll: Any, query_plan: Any, **options: Any) -> Any:
    if options.get("collation") is None:
        lookup = self._direct_id_lookup_from_plan(query_plan)
        if isinstance(lookup, str) and self._storage_key(lookup) not in coll:
            return []
        ids = _ids_in(query_plan)
        if ids is not None:
            keys = {self._storage_key(value) for value in ids}
            if isinstance(coll, MemoryCollection):
                return [(key, coll[key]) for key in coll.ordered_keys(keys)]  # natural order
            return [(key, coll[key]) for key in coll if key in keys]
    return _candidates(self, coll, query_plan, **options)


memory.MemoryEngine._candidate_items_for_plan_locked = _candidates_by_id  # type: ignore[method-assign]

if __name__ == "__main__":
    embedded_mongo.main()
