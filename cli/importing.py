"""Starting imports and waiting for them: `job-importer import`, and the summary it prints."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli import polling
from cli.console import err, out, say
from job_importer import history
from job_importer.broker import build_broker
from job_importer.db import Store, open_store
from job_importer.settings import FeedConfig, Settings, get_settings
from job_importer.trigger import start_import


def _feeds(settings: Settings, urls: list[str] | None) -> list[FeedConfig]:
    if not urls:
        return settings.feed_configs()
    for url in urls:
        if not url.lower().startswith(("http://", "https://")):
            raise typer.BadParameter(f"{url!r} is not an http(s) URL", param_hint="--feed")
    return [FeedConfig(url=url) for url in urls]


def wait_for_batch(
    store: Store, batch_id: str, total: int, timeout_s: float, *, show_progress: bool
) -> list[dict[str, Any]]:
    """Poll the batch's runs until every one has finished (completed or failed)."""
    started = time.monotonic()
    deadline = started + timeout_s
    schedule = polling.Schedule()
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=err, disable=not show_progress, transient=True) as progress:
        task = progress.add_task("importing", total=total)
        while True:
            runs = history.list_runs(store, batch_id=batch_id, limit=max(total, 1))
            finished = sum(run["status"] in history.TERMINAL for run in runs)
            items = sum(run.get("new", 0) + run.get("updated", 0) + run.get("unchanged", 0) for run in runs)
            progress.update(
                task, completed=finished, description=f"importing · {items} items written or checked"
            )
            if finished >= total:
                return sorted(runs, key=lambda run: run["created_at"])
            if time.monotonic() > deadline:
                raise TimeoutError(f"runs of {batch_id} still unfinished after {timeout_s:.0f} s")
            time.sleep(schedule.next_delay(time.monotonic() - started, polling.progress(runs, total)))


def print_summary(summary: dict[str, Any]) -> None:
    table = Table(title="Import summary")
    columns = ("feed", "status", "fetched", "new", "updated", "unchanged", "duplicates", "failed")
    for column in columns:
        table.add_column(column, justify="left" if column in ("feed", "status") else "right")
    for run in summary["runs"]:
        status = run["status"] + (" (not modified)" if run.get("not_modified") else "")
        if run.get("error"):
            status += f": {run['error']}"
        if run.get("warning"):
            status += f" (warning: {run['warning']})"
        table.add_row(run["feed"], status, *(str(run[name]) for name in columns[2:]))
    totals = summary["totals"]
    table.add_row("[bold]total[/bold]", "", *(f"[bold]{totals[name]}[/bold]" for name in columns[2:]))
    out.print(table)


def run_and_wait(
    settings: Settings, feeds: list[FeedConfig], trigger: history.Trigger, timeout_s: float, progress: bool
) -> dict[str, Any]:
    store = open_store(settings)
    started = start_import(settings, store, build_broker(settings), feeds, trigger)
    runs = wait_for_batch(store, started.batch_id, len(started.run_ids), timeout_s, show_progress=progress)
    return {"batch_id": started.batch_id, **history.summarize(runs)}


def import_(
    feed: Annotated[
        list[str] | None, typer.Option("--feed", help="Feed URL (repeatable); default: all configured")
    ] = None,
    wait: Annotated[
        bool, typer.Option(help="Wait until every feed of the run is finished, then summarise")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait with --wait")] = 900.0,
) -> None:
    """Start an import now."""
    from cli.system import workers_running
    from devstack.stack import local_stack

    settings = get_settings()
    feeds = _feeds(settings, feed)
    if not wait:
        started = start_import(settings, open_store(settings), build_broker(settings), feeds, "cli")
        result = {"batch_id": started.batch_id, "run_ids": started.run_ids}
        out.print_json(data=result) if as_json else out.print(
            f"started {started.batch_id}: {len(started.run_ids)} run(s)"
        )
        return
    with local_stack(settings, say) as live, workers_running(live, say):
        summary = run_and_wait(live, feeds, "cli", timeout, progress=not as_json)
    if as_json:
        typer.echo(json.dumps(summary, default=str))
    else:
        print_summary(summary)
    raise typer.Exit(0 if all(run["status"] == "completed" for run in summary["runs"]) else 1)
