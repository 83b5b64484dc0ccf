"""Starting imports and waiting for them: `job-importer import`, and the summary it prints."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from cli import exitcodes
from cli.console import emit_json, err, fail, say
from cli.history import JsonOption
from cli.progress import BatchTimeout, BatchWatch
from cli.tables import Listing, show
from cli.workers import missing_workers
from job_importer import feed_registry, history
from job_importer.broker import build_broker
from job_importer.db import open_store
from job_importer.settings import FeedConfig, Settings, get_settings
from job_importer.trigger import start_import

SUMMARY_COUNTS = history.RUN_COUNTS


def _feeds(settings: Settings, urls: list[str] | None) -> list[FeedConfig]:
    """The given URLs (a registered one as the registry has it), else every enabled feed of the
    registry, as ``POST /imports/start`` does; the configured feeds while the registry is empty
    (nothing has synced it yet: the scheduler and the API do on start)."""
    for url in urls or []:
        if not url.lower().startswith(("http://", "https://")):
            raise typer.BadParameter(f"{url!r} is not an http(s) URL", param_hint="--feed")
    configured = settings.feed_configs() if not urls else []  # a broken FEEDS_FILE says so first
    registered = {
        feed.url: feed for feed in feed_registry.list_feeds(open_store(settings), urls=urls or None)
    }
    if not urls:
        if registered:
            return [feed.feed() for feed in registered.values() if feed.enabled]
        return configured
    return [registered[url].feed() if url in registered else FeedConfig(url=url) for url in urls]


def print_summary(summary: dict[str, Any]) -> None:
    listing = Listing(
        "Import summary", ("feed", "status", *SUMMARY_COUNTS), numeric=frozenset(SUMMARY_COUNTS)
    )
    for run in summary["runs"]:
        status = run["status"] + (" (not modified)" if run.get("not_modified") else "")
        if run.get("error"):
            status += f": {run['error']}"
        if run.get("warning"):
            status += f" (warning: {run['warning']})"
        listing.add(run["feed"], status, *(run[name] for name in SUMMARY_COUNTS))
    listing.add("total", "", *(summary["totals"][name] for name in SUMMARY_COUNTS))
    show(listing)


def _follow_hint(batch_id: str) -> str:
    return f"batch {batch_id}; follow it with `job-importer runs --batch {batch_id}`"


@contextmanager
def _interrupts_deferred() -> Iterator[list[int]]:
    """Ctrl-C while the runs are being started takes effect once they are: then there is a batch
    id to tell (an interrupt in the middle would leave runs nobody was told about)."""
    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return
    previous = signal.signal(signal.SIGINT, lambda number, _frame: caught.append(number))
    try:
        yield caught
    finally:
        signal.signal(signal.SIGINT, previous)


def run_and_wait(
    settings: Settings, feeds: list[FeedConfig], trigger: history.Trigger, timeout_s: float, progress: bool
) -> dict[str, Any]:
    """Start an import and follow it to the end. A timeout or Ctrl-C says how to go on following it
    (the import itself goes on) and exits with TIMED_OUT or INTERRUPTED."""
    store = open_store(settings)
    with _interrupts_deferred() as interrupted:
        started = start_import(settings, store, build_broker(settings), feeds, trigger)
    watch = BatchWatch(
        store, started.batch_id, len(started.run_ids), timeout_s, progress, lambda: missing_workers(settings)
    )
    try:
        if interrupted:
            raise KeyboardInterrupt
        runs = watch.wait()
    except BatchTimeout as exc:
        raise fail(
            f"timed out: {exc}; the import goes on: {_follow_hint(started.batch_id)}", exitcodes.TIMED_OUT
        ) from None
    except KeyboardInterrupt:
        raise fail(
            f"interrupted; the import goes on: {_follow_hint(started.batch_id)}", exitcodes.INTERRUPTED
        ) from None
    return {"batch_id": started.batch_id, **history.summarize(runs)}


def import_(
    feed: Annotated[
        list[str] | None,
        typer.Option("--feed", help="Feed URL (repeatable); default: every enabled feed of the registry"),
    ] = None,
    wait: Annotated[
        bool, typer.Option(help="Wait until every feed of the run is finished, then summarise")
    ] = False,
    as_json: JsonOption = False,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds to wait with --wait")] = 900.0,
) -> None:
    """Start an import now."""
    settings = get_settings()
    feeds = _feeds(settings, feed)
    if not wait:
        started = start_import(settings, open_store(settings), build_broker(settings), feeds, "cli")
        if as_json:
            emit_json({"batch_id": started.batch_id, "run_ids": started.run_ids})
        else:
            typer.echo(f"started {started.batch_id}: {len(started.run_ids)} run(s)")
        if missing := missing_workers(settings):
            err.print(
                f"[yellow]warning: no {' or '.join(missing)} worker is running: the runs stay queued until one"
                " starts (`job-importer worker SERVICE`, or `job-importer up`)[/yellow]"
            )
        return
    from cli.system import workers_running
    from devstack.stack import local_stack

    with local_stack(settings, say) as live, workers_running(live, say):
        summary = run_and_wait(live, feeds, "cli", timeout, progress=not as_json)
    if as_json:
        emit_json(summary)
    else:
        print_summary(summary)
    ok = all(run["status"] == "completed" for run in summary["runs"])
    raise typer.Exit(exitcodes.OK if ok else exitcodes.RUN_FAILED)
