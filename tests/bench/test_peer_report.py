"""The seed comparison's arithmetic and table, from made-up runs (the runs themselves need node)."""

from __future__ import annotations

import pytest

from bench.peer import SideRun, describe
from bench.report import table


def side_run(seconds: float, trigger: float, fetch: float, worker: float) -> SideRun:
    return SideRun(
        items=10_000,
        seconds=seconds,
        trigger_cpu=trigger,
        fetch_cpu=fetch,
        import_cpu=worker,
        store_cpu=7.0,
        redis_cpu=1.5,
        redis_commands=330_000,
        store_round_trips=101,
    )


def test_per_item_figures_add_the_triggering_command_to_the_producer_side() -> None:
    metrics = side_run(20.0, trigger=1.0, fetch=2.0, worker=1.5).metrics()
    assert metrics == pytest.approx(
        {
            "wall_s": 20.0,
            "items_per_s": 500,
            "own_cpu_s_per_1000_items": 0.45,
            "producer_cpu_s_per_1000_items": 0.3,
            "trigger_cpu_s_per_1000_items": 0.1,
            "worker_cpu_s_per_1000_items": 0.15,
            "store_cpu_s_per_1000_items": 0.7,
            "store_round_trips_per_item": 0.0101,
            "redis_cpu_s_per_1000_items": 0.15,
            "redis_commands_per_item": 33,
        }
    )


def test_the_table_gives_each_scenario_with_the_ratio_to_the_seed_without_its_limiter() -> None:
    seed = describe([side_run(10.0, 3.0, 0.0, 2.0), side_run(12.0, 3.0, 0.0, 2.0)])
    ours = describe([side_run(5.0, 1.0, 1.0, 1.0), side_run(6.0, 1.0, 1.0, 1.0)])
    report = {
        "machine": {"summary": "test"},
        "command": "python -m bench --peer seed",
        "config": {"feeds": 5, "items": 2000, "runs": 2, "limited_runs": 0},
        "peer": {
            "ascii": {
                "store": "stand-in",
                "sides": {"seed, limiter off": {"first import": seed}, "ours": {"first import": ours}},
            }
        },
    }
    lines = table(report).splitlines()
    wall = next(line for line in lines if line.startswith("| first import: wall s"))
    assert wall == "| first import: wall s | - | 11.0 | 5.5 (5.0-6.0) | 0.50 |"
    own = next(line for line in lines if line.startswith("| first import: own CPU-s"))
    assert own.endswith("| 0.500 | 0.300 (0.300-0.300) | 0.60 |")
