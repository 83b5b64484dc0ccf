"""``python -m bench``: run the benchmarks, print the table, write the JSON.

Defaults are the benchmark of docs/performance.md (a few minutes on two cores); ``--quick`` is
the smoke size CI runs (tests/bench/test_smoke.py). ``--peer seed`` runs the comparison with the
design this project replaces (bench/peer.py) instead of the importer-count runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import e2e, feeds, parse_stage, peer
from bench.report import table
from devstack.samplefeeds import TEXTS

RESULTS = Path(__file__).resolve().parent / "results"


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="the smoke size: a few seconds, numbers meaningless"
    )
    parser.add_argument("--items", type=int, default=2000, help="items per feed (default 2000)")
    parser.add_argument("--feeds", type=int, default=5, help="feeds per end-to-end import (default 5)")
    parser.add_argument(
        "--description-bytes",
        type=int,
        default=1400,
        help="HTML per description (default 1400: ~6.9 MB per 2,000-item feed)",
    )
    parser.add_argument("--runs", type=int, default=3, help="end-to-end runs per setting (default 3)")
    parser.add_argument("--parse-runs", type=int, default=5, help="runs per parser (default 5)")
    parser.add_argument("--importers", default="1,2,4", help="importer process counts (default 1,2,4)")
    parser.add_argument(
        "--threads", type=int, default=10, help="threads per worker process (default 10, WORKER_CONCURRENCY)"
    )
    parser.add_argument(
        "--batch-size", type=int, help="items per chunk (default: WORKER_BATCH_SIZE's default)"
    )
    parser.add_argument(
        "--mongodb-url",
        default=os.environ.get("MONGODB_URL"),
        help="a real MongoDB (default: MONGODB_URL, else the stand-in)",
    )
    parser.add_argument(
        "--text",
        default=",".join(TEXTS),
        help="feed texts, comma-separated: ascii (pure ASCII), real (non-ASCII as real feeds carry it); default both",
    )
    parser.add_argument(
        "--peer",
        choices=["seed"],
        help="compare with the design this project replaces (bench/seed, Node), instead of --importers",
    )
    parser.add_argument(
        "--limited-runs",
        type=int,
        default=1,
        help="with --peer: runs of the seed with its limiter on (100 jobs/s; 100 s per 10,000 items), default 1",
    )
    parser.add_argument("--skip-parse", action="store_true")
    parser.add_argument("--skip-e2e", action="store_true")
    parser.add_argument("--json", type=Path, help=f"where to write the JSON (default {RESULTS}/<time>.json)")
    args = parser.parse_args(argv)
    if args.quick:
        args.items, args.feeds, args.description_bytes = 60, 2, 300
        args.runs, args.parse_runs, args.importers = 1, 2, "1,2"
    args.texts = args.text.split(",")
    if not set(args.texts) <= set(TEXTS):
        parser.error(f"--text: one or more of {', '.join(TEXTS)}")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = arguments(argv)
    report: dict[str, Any] = {
        "command": "python -m bench " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "summary": f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.machine()}",
        },
        "config": {
            "items": args.items,
            "feeds": args.feeds,
            "description_bytes": args.description_bytes,
            "runs": args.runs,
            "parse_runs": args.parse_runs,
            "importers": [int(n) for n in args.importers.split(",")],
            "threads": args.threads,
            "batch_size": args.batch_size,
            "invalid_every": feeds.INVALID_EVERY,
            "changed_every": feeds.CHANGED_EVERY,
            "texts": args.texts,
            "peer": args.peer,
            "limited_runs": args.limited_runs if args.peer else None,
        },
        "load_average": {"start": os.getloadavg()},
    }
    if not args.skip_parse:
        report["parse"] = {}
        for text in args.texts:
            jobs = feeds.jobs(args.items, args.description_bytes, start=1000, seed=7, text=text)
            report["parse"][text] = parse_stage.measure(feeds.feed(jobs), len(jobs), args.parse_runs)
        jobs = feeds.jobs(args.items, args.description_bytes, start=1000, seed=7)
        report["formats"] = parse_stage.measure_formats(jobs, args.parse_runs)
    if not args.skip_e2e and args.peer:
        report["peer"] = {
            text: peer.measure(
                mongodb_url=args.mongodb_url,
                feeds=args.feeds,
                items=args.items,
                description_bytes=args.description_bytes,
                runs=args.runs,
                limited_runs=args.limited_runs,
                threads=args.threads,
                batch_size=args.batch_size,
                text=text,
            )
            for text in args.texts
        }
    elif not args.skip_e2e:
        report["e2e"] = {
            text: e2e.measure(
                mongodb_url=args.mongodb_url,
                importer_counts=report["config"]["importers"],
                feeds=args.feeds,
                items=args.items,
                description_bytes=args.description_bytes,
                runs=args.runs,
                threads=args.threads,
                batch_size=args.batch_size,
                text=text,
            )
            for text in args.texts
        }
    report["load_average"]["end"] = os.getloadavg()
    target = args.json or RESULTS / f"{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(report, indent=2))
    print(table(report))
    print(f"\nJSON: {target}")
    return report


if __name__ == "__main__":
    main()
