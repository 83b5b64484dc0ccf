"""Reading and pruning the history: `job-importer runs`, `failed`, `cleanup`."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from cli.console import out
from job_importer import failed_items, history
from job_importer.db import open_store
from job_importer.settings import get_settings


def runs(
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    feed: Annotated[str | None, typer.Option(help="Only runs of this feed URL")] = None,
    status: Annotated[str | None, typer.Option(help="Only runs with this status")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show the import history, newest first."""
    rows = history.list_runs(open_store(get_settings()), limit=limit, feed_url=feed, status=status)
    if as_json:
        typer.echo(json.dumps(rows, default=str))
        return
    table = Table(title="Import runs")
    for column in (
        "run",
        "feed",
        "trigger",
        "status",
        "created",
        "ms",
        "fetched",
        "new",
        "upd",
        "same",
        "dup",
        "failed",
    ):
        table.add_column(column)
    for run in rows:
        table.add_row(
            run["_id"], run["feed_url"], run["trigger"], run["status"], f"{run['created_at']:%Y-%m-%d %H:%M:%S}",
            str(run.get("duration_ms") or ""), *(str(run.get(name, 0)) for name in ("fetched", "new", "updated", "unchanged", "duplicates", "failed")),
        )  # fmt: skip
    out.print(table)


def failed(
    run: Annotated[str | None, typer.Option(help="Only items of this run")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show items that could not be imported, with the reason."""
    rows = failed_items.list_failed(open_store(get_settings()), run_id=run, limit=limit)
    if as_json:
        typer.echo(json.dumps(rows, default=str))
        return
    table = Table(title="Failed items")
    for column in ("run", "guid", "stage", "reason"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["run_id"], str(row.get("guid") or ""), row.get("stage", ""), row["reason"])
    out.print(table)


def cleanup(
    days: Annotated[int | None, typer.Option(min=1, help="Default: HISTORY_RETENTION_DAYS")] = None,
) -> None:
    """Delete finished runs and failed items older than the retention period."""
    settings = get_settings()
    deleted = history.cleanup(open_store(settings), timedelta(days=days or settings.history_retention_days))
    out.print(f"deleted {deleted['runs']} run(s) and {deleted['failed_items']} failed item(s)")
