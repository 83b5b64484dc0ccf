"""``python -m bench.memory``: the fetcher's memory for one large feed, by feed size and format.

For each format (Jobicy-shaped RSS, job-board XML, Greenhouse's job board JSON; JSON Feed 1.1
on request) and size (10,000, 30,000 and 100,000 items
by default, ~3.4 KB each as in ``python -m bench``), a fresh fetcher group (one worker process,
``--threads`` threads, default 10 as shipped) fetches one feed from a loopback server into a
private Redis; no importer runs, so what is measured is the fetcher alone. Reported per feed:
the worker process's resident set when idle before the fetch, its peak (VmHWM) during it, its
resident set once the fetch is done, and the time from the trigger until the fetch had sent
every chunk. ``FETCH_MAX_BYTES`` is set above the largest feed for the measurement.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from bench import feeds as bench_feeds
from bench.e2e import Stack, Workers, peak_rss, stack
from devstack.feedserver import Reply
from devstack.samplefeeds import SampleJob, greenhouse_json, jobxml_feed, json_feed
from job_importer import history
from job_importer.broker import build_broker
from job_importer.db import open_store
from job_importer.settings import FeedConfig, Settings
from job_importer.trigger import start_import

FORMATS = ("rss", "jobxml", "greenhouse")  # the default; "jsonfeed" on request
MAKERS: dict[str, Callable[[list[SampleJob]], bytes]] = {
    "rss": lambda jobs: bench_feeds.feed(jobs),
    "jobxml": lambda jobs: jobxml_feed(jobs),
    "greenhouse": lambda jobs: greenhouse_json(jobs),
    "jsonfeed": lambda jobs: json_feed(jobs),
}
CONTENT_TYPES = {"greenhouse": "application/json", "jsonfeed": "application/feed+json"}
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def body(fmt: str, items: int, description_bytes: int) -> bytes:
    jobs = bench_feeds.jobs(items, description_bytes, start=1_000_000, seed=items)
    return MAKERS[fmt](jobs)


def measure_one(stack_: Stack, fmt: str, items: int, args: argparse.Namespace) -> dict[str, Any]:
    data = body(fmt, items, args.description_bytes)
    tag = uuid.uuid4().hex[:8]
    settings = Settings(
        redis_url=stack_.redis_url,
        mongodb_url=stack_.mongodb_url,
        mongodb_db=f"benchmem_{tag}",
        queue_namespace=f"benchmem{tag}",
        feeds=[],
        mongodb_timeout_ms=60_000,
        worker_concurrency=args.threads,
        fetch_max_bytes=max(len(data) * 2, Settings().fetch_max_bytes),
        fetch_total_timeout_s=1800,
        metrics_enabled=False,
    )
    reply = Reply(body=data, content_type=CONTENT_TYPES.get(fmt, Reply.content_type))
    stack_.server.routes[f"/{tag}.xml"] = lambda request: reply
    feed = FeedConfig(
        url=stack_.server.url(f"/{tag}.xml"),
        source=f"mem-{fmt}",
        format="greenhouse" if fmt == "greenhouse" else "auto",  # a loopback host: not recognised by it
    )
    store, broker = open_store(settings), build_broker(settings)
    workers = Workers(settings, stack_.probe_dir)
    workers.start("fetcher", 1)
    try:
        workers.wait_ready("fetcher", 1)
        time.sleep(1)  # settle after start-up imports
        processes = workers.processes("fetcher")  # the dramatiq master and its worker process
        idle = {process.pid: process.memory_info().rss for process in processes}
        started = time.perf_counter()
        [run_id] = start_import(settings, store, broker, [feed], "cli").run_ids
        run = wait_fetched(store, run_id, timeout_s=1800)
        seconds = time.perf_counter() - started
        peaks = {process.pid: peak_rss(process.pid) for process in processes}
        time.sleep(2)
        fetching = max(processes, key=lambda process: peaks[process.pid])  # the one that fetched
        peak, before, after = peaks[fetching.pid], idle[fetching.pid], fetching.memory_info().rss
    finally:
        workers.stop()
        stack_.server.routes.pop(f"/{tag}.xml", None)
        redis.Redis.from_url(stack_.redis_url).flushdb()
        store.db.client.drop_database(settings.mongodb_db)
    if run.get("error") or int(run["fetched"]) != items:
        raise RuntimeError(f"the fetch did not read every item: {run}")
    return {
        "format": fmt,
        "items": items,
        "feed_bytes": len(data),
        "seconds": round(seconds, 2),
        "idle_rss_mb": round(before / 1e6),
        "peak_rss_mb": round(peak / 1e6),
        "after_rss_mb": round(after / 1e6),
        "chunks": run.get("chunks_total"),
    }


def wait_fetched(store: Any, run_id: str, timeout_s: float) -> dict[str, Any]:
    """Until the fetch has sent every chunk (the run is importing, or ended)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = history.get_run(store, run_id)
        if run is not None and run["status"] not in ("queued", "fetching"):
            return run
        time.sleep(0.05)
    raise RuntimeError(f"run {run_id} was not fetched within {timeout_s:.0f} s")


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| format | items | feed MB | fetch s | idle RSS MB | peak RSS MB | after RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['format']} | {row['items']:,} | {row['feed_bytes'] / 1e6:.0f} | {row['seconds']:.1f} | "
            f"{row['idle_rss_mb']} | {row['peak_rss_mb']} | {row['after_rss_mb']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--items", default="10000,30000,100000", help="feed sizes, comma-separated")
    parser.add_argument(
        "--formats", default=",".join(FORMATS), help=f"of {', '.join(MAKERS)} (default {','.join(FORMATS)})"
    )
    parser.add_argument("--threads", type=int, default=10, help="fetcher threads (default 10, as shipped)")
    parser.add_argument("--description-bytes", type=int, default=1400, help="HTML per description")
    parser.add_argument("--mongodb-url", default=None, help="a real MongoDB (default: the stand-in)")
    parser.add_argument(
        "--json", type=Path, help=f"where to write the JSON (default {RESULTS_DIR}/memory-<time>.json)"
    )
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.items.split(",")]
    rows = []
    with stack(args.mongodb_url) as stack_:
        for fmt in args.formats.split(","):
            for items in sizes:
                rows.append(measure_one(stack_, fmt, items, args))
                print(table(rows[-1:]).splitlines()[-1], flush=True)
    print(table(rows))
    path = args.json or RESULTS_DIR / f"memory-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    command = "python -m bench.memory " + " ".join(sys.argv[1:] if argv is None else argv)
    path.write_text(json.dumps({"command": command, "rows": rows}, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
