"""The message browser on the command line: `job-importer messages list / show / promote / delete`."""

from __future__ import annotations

from typing import Annotated

import redis
import typer

from cli import exitcodes
from cli.console import confirm, emit_json, err
from cli.history import JsonOption, YesOption
from cli.tables import Listing, show
from job_importer.broker import build_broker
from job_importer.db import open_store
from job_importer.messages import STATES, QueueBrowser, State
from job_importer.queues import queue_names
from job_importer.settings import Settings, get_settings

messages_app = typer.Typer(
    no_args_is_help=True, help="Every message of a queue: ready, delayed, in progress, dead; one in full."
)

QueueArgument = Annotated[str, typer.Argument(help="Queue name (`job-importer queues` lists them)")]
IdsArgument = Annotated[list[str], typer.Argument(help="Message ids, as `messages list` shows them")]


def _browser(settings: Settings, queue: str) -> QueueBrowser:
    if queue not in queue_names(settings):
        raise typer.BadParameter(f"unknown queue {queue!r}; queues are {', '.join(queue_names(settings))}")
    return QueueBrowser.of(redis.Redis.from_url(settings.redis_url), settings, queue)


def _time(value: object) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}" if value is not None else ""


@messages_app.command("list")
def list_(
    queue: QueueArgument,
    state: Annotated[str, typer.Option(help=f"One of {', '.join(STATES)}")] = "ready",
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    skip: Annotated[int, typer.Option(min=0, help="Skip this many (paging)")] = 0,
    as_json: JsonOption = False,
) -> None:
    """One page of the queue's messages in a state (the total goes to stderr)."""
    if state not in STATES:
        raise typer.BadParameter(f"one of {', '.join(STATES)}", param_hint="--state")
    chosen: State = next(s for s in STATES if s == state)
    rows, total = _browser(get_settings(), queue).list(chosen, limit=limit, skip=skip)
    if as_json:
        emit_json({"items": rows, "total": total, "skip": skip, "limit": limit})
        return
    listing = Listing(
        f"{queue}: {state}", ("id", "actor", "run", "items", "enqueued", "eta", "retries"),
        numeric=frozenset({"items", "retries"}),
    )  # fmt: skip
    for row in rows:
        listing.add(
            row.message_id,
            row.actor,
            row.run_id,
            row.items,
            _time(row.enqueued_at),
            _time(row.eta),
            row.retries,
        )
    show(listing)
    err.print(f"{len(rows)} of {total} {state} message(s) from {skip}", soft_wrap=True)


@messages_app.command("show")
def show_(queue: QueueArgument, message_id: str, as_json: JsonOption = False) -> None:
    """One message in full: payload (credentials redacted), last error and the whole traceback."""
    detail = _browser(get_settings(), queue).get(message_id)
    if detail is None:
        err.print(f"no message with id {message_id!r} in {queue}", markup=False)
        raise typer.Exit(exitcodes.NOT_FOUND)
    if as_json:
        emit_json(detail)
        return
    for name in (
        "message_id",
        "queue",
        "state",
        "actor",
        "run_id",
        "items",
        "enqueued_at",
        "eta",
        "retries",
        "error",
    ):
        typer.echo(f"{name}: {getattr(detail, name) if getattr(detail, name) is not None else ''}")
    typer.echo(f"payload:\n{detail.payload}")
    if detail.traceback:
        typer.echo(f"traceback:\n{detail.traceback}")


def _report(verb: str, asked: list[str], done: list[str], as_json: bool) -> None:
    skipped = [mid for mid in asked if mid not in set(done)]
    if as_json:
        emit_json({"count": len(done), "ids": done, "skipped": skipped})
    else:
        typer.echo(f"{verb} {len(done)} message(s)")
    for mid in skipped:
        err.print(
            f"skipped {mid!r}: no such message in a state that allows it (or a worker holds it)", markup=False
        )
    if skipped:
        raise typer.Exit(exitcodes.NOT_FOUND)


@messages_app.command("promote")
def promote(queue: QueueArgument, ids: IdsArgument, as_json: JsonOption = False) -> None:
    """Send delayed messages (waiting for a retry) to the ready queue now."""
    settings = get_settings()
    done = _browser(settings, queue).promote(build_broker(settings), ids)
    _report("promoted", ids, done, as_json)


@messages_app.command("delete")
def delete(
    queue: QueueArgument, ids: IdsArgument, yes: YesOption = False, as_json: JsonOption = False
) -> None:
    """Delete ready, delayed or dead messages for good (their items count as failed on their runs)."""
    settings = get_settings()
    browser = _browser(settings, queue)
    confirm(f"Delete {len(ids)} message(s) of {queue} for good?", yes)
    done = browser.delete(settings, open_store(settings), ids)
    _report("deleted", ids, done, as_json)
