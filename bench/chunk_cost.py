"""``python -m bench.chunk_cost``: what the importer's chunk path costs, in process, no Dramatiq.

Writes one benchmark feed's items through ``import_chunk_payload`` (validate, write, account for
the chunk on its run, release the items) in chunks of ``--batch-size``, as a first import and
then once more unchanged, against a redis-server and a store started for each run (the stand-in
unless ``--mongodb-url``). Per 1,000 items it reports the importer's own CPU-seconds
(``time.process_time`` of the measuring process), the store's (psutil; not for an external
MongoDB), the store commands and the bytes of the ``update`` commands the importer sent.

The end-to-end benchmark measures the same path inside worker processes, where Dramatiq, Redis
and ten threads add their share; this one is for a change to the chunk path itself.
``--root DIR`` measures another checkout the same way (a subprocess with DIR first on the
module path; any checkout whose ``bench/e2e.py`` and ``bench/feeds.py`` have this one's
``stack`` and ``jobs``), alternating with this one run by run, so that both see the same noise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ("first import", "re-import unchanged")


def measure_once(items: int, batch_size: int, text: str, mongodb_url: str | None) -> dict[str, Any]:
    """One first import and one unchanged re-import of one feed, through the chunk path."""
    import bson
    import psutil
    import redis
    from pymongo import MongoClient, monitoring

    from bench import feeds
    from bench.e2e import stack
    from job_importer.contract import JOB_ITEM
    from job_importer.db import Store, ensure_indexes
    from job_importer.pending import PendingItems
    from job_importer.settings import FeedConfig, Settings
    from services.fetcher.normalize import normalize
    from services.fetcher.parse import parse_feed
    from services.importer.pipeline import ImporterContext, import_chunk_payload
    from services.importer.ratelimit import RateLimiter

    class Commands(monitoring.CommandListener):
        def __init__(self) -> None:
            self.events: list[tuple[str, Any]] = []

        def started(self, event: monitoring.CommandStartedEvent) -> None:
            self.events.append(
                (event.command_name, event.command if event.command_name == "update" else None)
            )

        def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
            pass

        def failed(self, event: monitoring.CommandFailedEvent) -> None:
            pass

    feed_url = "http://127.0.0.1/feed.xml"
    body = feeds.feed(feeds.jobs(items, 1400, start=1000, seed=7, text=text))
    entries = normalize(parse_feed(body).entries, FeedConfig(url=feed_url, source="bench")).items
    raw = [json.loads(JOB_ITEM.dump_json(item)) for item in entries]
    results: dict[str, Any] = {}
    with stack(mongodb_url) as services:
        settings = Settings(feeds=[], mongodb_url=services.mongodb_url, redis_url=services.redis_url)
        commands = Commands()
        client: MongoClient[Any] = MongoClient(
            services.mongodb_url, event_listeners=[commands], tz_aware=True
        )
        store = Store(client["chunk_cost"])
        ensure_indexes(store)
        broker_client = redis.Redis.from_url(services.redis_url)
        context = ImporterContext(
            settings=settings,
            store=store,
            pending=PendingItems.for_settings(broker_client, settings),
            limiter=RateLimiter(broker_client, "chunk-cost", 0, 1000),
        )
        store_process = psutil.Process(services.store_pid) if services.store_pid else None
        started_at = datetime.now(UTC)
        for number, scenario in enumerate(SCENARIOS):
            run_id = f"run-{number}"
            fetched_at = started_at + timedelta(minutes=number)
            chunks = [raw[start : start + batch_size] for start in range(0, len(raw), batch_size)]
            store.runs.insert_one(
                {"_id": run_id, "status": "importing", "feed_url": feed_url, "created_at": fetched_at,
                 "chunks_total": len(chunks), "chunks_accounted": 0}
            )  # fmt: skip
            commands.events.clear()
            store_before = _cpu(store_process)
            cpu_before = time.process_time()
            for seq, chunk in enumerate(chunks):
                payload = {"run_id": run_id, "seq": seq, "feed_url": feed_url,
                           "fetched_at": fetched_at.isoformat(), "items": chunk}  # fmt: skip
                import_chunk_payload(context, payload)
            ours = time.process_time() - cpu_before
            stored = _cpu(store_process) - store_before
            updates = sum(len(bson.encode(command)) for name, command in commands.events if name == "update")
            per_1000 = 1000 / len(raw)
            results[scenario] = {
                "own_cpu_s_per_1000_items": ours * per_1000,
                "store_cpu_s_per_1000_items": stored * per_1000 if store_process else None,
                "store_commands_per_item": len(commands.events) / len(raw),
                "update_bytes_per_item": updates / len(raw),
            }
        client.close()
    return results


def _cpu(process: Any) -> float:
    if process is None:
        return 0.0
    times = process.cpu_times()
    return float(times.user + times.system)


def _run_in(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    """One measurement of the code in ``root``, in a subprocess with ``root`` first on the path."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--one", "--items", str(args.items),
            "--batch-size", str(args.batch_size), "--text", args.text]  # fmt: skip
    if args.mongodb_url:
        argv += ["--mongodb-url", args.mongodb_url]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(argv, env=env, cwd=root, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the measurement of {root} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.splitlines()[-1]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.chunk_cost", description=__doc__)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--text", default="real", choices=["ascii", "real"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mongodb-url", default=None)
    parser.add_argument("--root", type=Path, action="append", default=[], help="another checkout to compare")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure_once(args.items, args.batch_size, args.text, args.mongodb_url)))
        return
    from bench.stats import summary

    roots = [ROOT, *(root.resolve() for root in args.root)]
    samples: dict[Path, list[dict[str, Any]]] = {root: [] for root in roots}
    for repetition in range(args.runs):
        for root in roots if repetition % 2 == 0 else reversed(roots):
            samples[root].append(_run_in(root, args))
    print(f"# chunk path: {args.items} {args.text}-text items in chunks of {args.batch_size}; "
          f"median (min-max) of {args.runs} alternating runs")  # fmt: skip
    print(
        "| code | scenario | own CPU-s / 1k | store CPU-s / 1k | store commands / item | update bytes / item |"
    )
    print("|---|---|---:|---:|---:|---:|")
    for root, runs in samples.items():
        for scenario in SCENARIOS:
            cells = []
            for name in ("own_cpu_s_per_1000_items", "store_cpu_s_per_1000_items",
                         "store_commands_per_item", "update_bytes_per_item"):  # fmt: skip
                values = [run[scenario][name] for run in runs]
                if None in values:
                    cells.append("-")
                    continue
                stats = summary(values)
                digits = 0 if name == "update_bytes_per_item" else 3
                cells.append(
                    f"{stats['median']:,.{digits}f} ({stats['min']:,.{digits}f}-{stats['max']:,.{digits}f})"
                )
            print(f"| {root} | {scenario} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
