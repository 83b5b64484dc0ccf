"""``python -m bench.profile_run``: py-spy on the fetcher and importer during one real import.

Starts the benchmark's stack and workers (one fetcher, one importer process, 10 threads each),
attaches ``py-spy record`` to each worker process, imports the benchmark feeds once (a first
import; ``--again`` also profiles a re-import with 20 % changed) and prints, per process, the
functions with the most samples of their own and the most samples in all (their callees
included). Samples of idle threads are left out, so the shares are of the CPU the process used.
py-spy comes with the dev extra (``pip install -e .[dev]``).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bench import e2e
from bench import feeds as bench_feeds


def collapsed(path: Path) -> tuple[Counter[str], Counter[str], int]:
    """Own and inclusive samples per function from py-spy's raw (collapsed stack) output."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = [_function(frame) for frame in stack.split(";")]
        total += count
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    return own, inclusive, total


def _function(frame: str) -> str:
    """``name (path/to/file.py:123)`` -> ``name (file.py)``: one entry per function."""
    name, _, where = frame.partition(" (")
    file = where.rsplit(":", 1)[0].rstrip(")")
    return f"{name} ({'/'.join(Path(file).parts[-2:])})"


def record(py_spy: str, pid: int, output: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling one process until it is sent SIGINT (without pausing it: --nonblocking)."""
    argv = [py_spy, "record", "--format", "raw", "--rate", "200", "--nonblocking"]
    return subprocess.Popen(
        [*argv, "--output", str(output), "--pid", str(pid)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_run", description=__doc__)
    parser.add_argument("--text", default="real", choices=["ascii", "real"])
    parser.add_argument("--feeds", type=int, default=5)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--again", action="store_true", help="also profile a re-import, 20%% changed")
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    with (
        tempfile.TemporaryDirectory(prefix="bench-pyspy-") as out,
        e2e.stack(None) as stack,
        e2e.Bench(stack, 1, 10, None) as bench,
    ):
        warmup = bench_feeds.jobs(200, 1400, start=9_000_000, seed=99, text=args.text)
        bench.run([bench.serve("warmup", bench_feeds.feed(warmup))])
        batches = {
            f"profile{feed}": bench_feeds.jobs(
                args.items, 1400, start=feed * 1_000_000, seed=feed, text=args.text
            )
            for feed in range(args.feeds)
        }
        workers = {service: bench.workers.processes(service)[1:] for service in ("fetcher", "importer")}
        recorders = {
            service: record(py_spy, processes[0].pid, Path(out) / f"{service}.txt")
            for service, processes in workers.items()
        }
        scenarios = [("first import", False)] + ([("re-import, 20% changed", True)] if args.again else [])
        for name, changed in scenarios:
            run = bench.run(
                [
                    bench.serve(feed, bench_feeds.feed(jobs, changed=changed, changed_every=5))
                    for feed, jobs in batches.items()
                ]
            )
            print(f"{name}: {run.items} items in {run.seconds:.1f} s; CPU-s {run.cpu}")
        for recorder in recorders.values():
            recorder.send_signal(signal.SIGINT)
        for recorder in recorders.values():
            recorder.wait(timeout=60)
        for service in recorders:
            own, inclusive, total = collapsed(Path(out) / f"{service}.txt")
            print(f"\n## {service}: {total} samples (200/s, idle threads left out)\n")
            print("| own % | function | | in all % | function |\n|---:|---|---|---:|---|")
            for (own_name, own_count), (all_name, all_count) in zip(
                own.most_common(args.top), inclusive.most_common(args.top), strict=False
            ):
                print(
                    f"| {100 * own_count / total:.1f} | `{own_name}` | | {100 * all_count / total:.1f} | `{all_name}` |"
                )


if __name__ == "__main__":
    main()
