"""Rerun the fault-injection scenarios and write their figures into docs/reliability.md.

    .venv/bin/python -m tests.reliability.report            # run pytest tests/reliability, then render
    .venv/bin/python -m tests.reliability.report --render   # render the figures already recorded

Each scenario records one JSON file of figures (artifacts/reliability/); the long runs
(``python -m tests.reliability.long``) record theirs there too and are rendered alongside, with the
command that reproduces each row.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.reliability.harness import FIGURES_ENV, figures_dir

DOC = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"
START, END = "<!-- figures:start -->", "<!-- figures:end -->"
CI_COMMAND = "pytest tests/reliability"

#: The order of the rows; scenarios not listed come after, by name.
ORDER = [
    "importer kill -9, repeated",
    "fetcher kill -9 mid-fetch and mid-enqueue",
    "kill -9 during expiring runs",
    "graceful shutdown (SIGTERM)",
    "Redis restart (AOF)",
    "MongoDB unreachable, then back",
    "MongoDB unreachable beyond the retries: dead letters, requeue",
    "two schedulers at once",
    "scheduler with MongoDB away at its slot",
    "poison messages and items",
    "hostile feeds",
]


def load() -> list[dict[str, Any]]:
    rows = [json.loads(path.read_text()) for path in sorted(figures_dir().glob("*.json"))]
    rank = {name: index for index, name in enumerate(ORDER)}
    return sorted(rows, key=lambda row: (rank.get(row["scenario"], len(ORDER)), row["scenario"]))


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} s"


def render(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| scenario | injected | items | runs | lost | duplicated | time to recover | wall time | result | reproduce |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for row in rows:
        result = (
            "ok"
            if (row["lost"], row["duplicated"], row["problems"]) == (0, 0, [])
            else "FAILED: " + "; ".join(row["problems"])[:300]
        )
        recorded = time.strftime("%Y-%m-%d", time.gmtime(row["recorded_at"]))
        lines.append(
            f"| {row['scenario']} | {row['injected']} | {row['items']:,} | {row['runs']} | {row['lost']} | "
            f"{row['duplicated']} | {_seconds(row['recovery_s'])} | {_seconds(row['wall_s'])} | {result} | "
            f"`{row.get('command', CI_COMMAND)}` ({recorded}) |"
        )
    return "\n".join(lines)


def write(table: str) -> None:
    text = DOC.read_text()
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    DOC.write_text(f"{head}{START}\n{table}\n{END}{tail}")


def run_scenarios() -> int:
    for path in figures_dir().glob("*.json"):
        if json.loads(path.read_text()).get("command", CI_COMMAND) == CI_COMMAND:
            path.unlink()  # rerun below; the long runs' figures stay until they are rerun
    env = {**os.environ, FIGURES_ENV: str(figures_dir())}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/reliability"], env=env
    ).returncode


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--render", action="store_true", help="only render the figures already recorded")
    args = parser.parse_args()
    code = 0 if args.render else run_scenarios()
    rows = load()
    write(render(rows))
    print(f"{len(rows)} scenario(s) written to {DOC}", file=sys.stderr)
    raise SystemExit(code)


if __name__ == "__main__":
    main()
