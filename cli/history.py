"""Reading and pruning the history: `job-importer runs`, `failed`, `cleanup`."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from cli.console import confirm, emit_json
from cli.tables import Listing, show
from job_importer import failed_items, history
from job_importer.db import open_store
from job_importer.settings import get_settings
from job_importer.views import public_failed_item, public_run

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (the API's field names)")]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")]

COUNTS = history.RUN_COUNTS


def runs(
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    skip: Annotated[int, typer.Option(min=0, help="Skip this many of the newest runs (paging)")] = 0,
    feed: Annotated[str | None, typer.Option(help="Only runs of this feed URL")] = None,
    status: Annotated[str | None, typer.Option(help="Only runs with this status")] = None,
    batch: Annotated[str | None, typer.Option(help="Only runs of this batch (what `import` prints)")] = None,
    as_json: JsonOption = False,
) -> None:
    """Show the import history, newest first."""
    docs = history.list_runs(
        open_store(get_settings()), limit=limit, skip=skip, feed_url=feed, status=status, batch_id=batch
    )
    rows = [public_run(doc) for doc in docs]
    if as_json:
        emit_json(rows)
        return
    listing = Listing(
        "Import runs",
        ("run", "feed", "trigger", "status", "created", "ms", *COUNTS),
        numeric=frozenset({"ms", *COUNTS}),
    )
    for run in rows:
        status_text = run["status"] + (f": {run['error']}" if run.get("error") else "")
        listing.add(
            run["run_id"], run["feed_url"], run["trigger"], status_text, f"{run['created_at']:%Y-%m-%d %H:%M:%S}",
            run.get("duration_ms"), *(run.get(name, 0) for name in COUNTS),
        )  # fmt: skip
    show(listing)


def failed(
    run: Annotated[str | None, typer.Option(help="Only items of this run")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    skip: Annotated[int, typer.Option(min=0, help="Skip this many of the newest items (paging)")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Show items that could not be imported, with the reason."""
    docs = failed_items.list_failed(open_store(get_settings()), run_id=run, limit=limit, skip=skip)
    rows = [public_failed_item(doc) for doc in docs]
    if as_json:
        emit_json(rows)
        return
    listing = Listing("Failed items", ("id", "run", "guid", "stage", "reason"))
    for row in rows:
        listing.add(row["id"], row["run_id"], row.get("guid") or "", row["stage"], row["reason"])
    show(listing)


def cleanup(
    days: Annotated[int | None, typer.Option(min=1, help="Default: HISTORY_RETENTION_DAYS")] = None,
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Delete finished runs and failed items older than the retention period."""
    settings = get_settings()
    older_than = days or settings.history_retention_days
    confirm(f"Delete finished runs and failed items older than {older_than} day(s) for good?", yes)
    deleted = history.cleanup(open_store(settings), timedelta(days=older_than))
    if as_json:
        emit_json(deleted)
        return
    typer.echo(f"deleted {deleted['runs']} run(s) and {deleted['failed_items']} failed item(s)")
