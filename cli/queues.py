"""Queues and dead letters: `job-importer queues`, `pause`, `resume`, `dlq ...`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import redis
import typer

from cli import exitcodes
from cli.console import confirm, emit_json, err
from cli.history import JsonOption, YesOption
from cli.tables import Listing, show
from job_importer.broker import build_broker
from job_importer.control import pause as pause_queues
from job_importer.control import resume as resume_queues
from job_importer.deadletters import DeadLetters
from job_importer.pending import PendingItems
from job_importer.queues import queue_names
from job_importer.settings import Settings, get_settings
from job_importer.views import queue_overview

dlq_app = typer.Typer(no_args_is_help=True, help="The dead-letter queues: messages whose retries ran out.")

QUEUE_COLUMNS = ("queue", "ready", "delayed", "in_progress", "dead", "paused", "workers")


def _client(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(settings.redis_url)


def _show_queues(settings: Settings, as_json: bool) -> None:
    rows = queue_overview(_client(settings), settings)
    if as_json:
        emit_json(rows)
        return
    listing = Listing("Queues", QUEUE_COLUMNS, numeric=frozenset(QUEUE_COLUMNS) - {"queue", "paused"})
    for row in rows:
        workers = str(row["workers"]) + (
            f" ({row['workers_paused']} paused)" if row["workers_paused"] else ""
        )
        listing.add(*(row[name] for name in QUEUE_COLUMNS[:5]), "yes" if row["paused"] else "no", workers)
    show(listing)


def queues(as_json: JsonOption = False) -> None:
    """Messages per queue: ready, delayed (retrying), in progress, dead; paused or not; live workers."""
    _show_queues(get_settings(), as_json)


QueueOption = Annotated[
    list[str] | None, typer.Option("--queue", help="Queue name (repeatable); default: all")
]


def _queues(settings: Settings, chosen: list[str] | None) -> list[str]:
    known = queue_names(settings)
    for name in chosen or []:
        if name not in known:
            raise typer.BadParameter(
                f"unknown queue {name!r}; queues are {', '.join(known)}", param_hint="--queue"
            )
    return chosen or known


def pause(queue: QueueOption = None, as_json: JsonOption = False) -> None:
    """Pause processing (messages stay queued)."""
    _switch(queue, as_json, pause_queues, "paused")


def resume(queue: QueueOption = None, as_json: JsonOption = False) -> None:
    """Resume processing."""
    _switch(queue, as_json, resume_queues, "resumed")


def _switch(
    queue: list[str] | None, as_json: bool, action: Callable[[redis.Redis, str, list[str]], object], done: str
) -> None:
    """Pause or resume the chosen queues, say so, and show the queues as they are now."""
    settings = get_settings()
    names = _queues(settings, queue)
    action(_client(settings), settings.queue_namespace, names)
    if not as_json:
        err.print(f"{done}: {', '.join(names)}")
    _show_queues(settings, as_json)


@dlq_app.command("list")
def dlq_list(
    queue: QueueOption = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many per queue")] = 50,
    skip: Annotated[int, typer.Option(min=0, help="Skip this many of the newest per queue (paging)")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Dead messages with their reason, newest first."""
    settings = get_settings()
    client = _client(settings)
    dead = [
        letter
        for name in _queues(settings, queue)
        for letter in DeadLetters(client, settings.queue_namespace, name).list(limit=limit, skip=skip)
    ]
    if as_json:
        emit_json(dead)
        return
    listing = Listing("Dead letters", ("id", "queue", "actor", "run", "items", "dead at", "reason"))
    for letter in dead:
        listing.add(
            letter.message_id, letter.queue, letter.actor, letter.run_id or "", letter.items,
            f"{letter.dead_at:%Y-%m-%d %H:%M:%S}", letter.reason,
        )  # fmt: skip
    show(listing)


IdsArgument = Annotated[
    list[str] | None, typer.Argument(help="Message ids (as `dlq list` shows them); or --all")
]
AllOption = Annotated[bool, typer.Option("--all", help="Every dead message")]


def _chosen(ids: list[str] | None, all_: bool) -> list[str] | None:
    """The message ids to act on; None means all of them."""
    if ids and all_:
        raise typer.BadParameter("give message ids or --all, not both")
    if not ids and not all_:
        raise typer.BadParameter("give message ids or --all")
    return None if all_ else list(dict.fromkeys(ids or []))


def _located(settings: Settings, names: list[str], ids: list[str] | None) -> dict[str, list[str] | None]:
    """Per queue, the given ids that are dead there (None: all of them, for --all)."""
    client = _client(settings)
    if ids is None:
        return dict.fromkeys(names)
    return {
        name: [mid for mid in ids if DeadLetters(client, settings.queue_namespace, name).raw(mid) is not None]
        for name in names
    }


def _missing(ids: list[str] | None, located: dict[str, list[str] | None], names: list[str]) -> list[str]:
    found = {mid for chosen in located.values() for mid in chosen or []}
    missing = [mid for mid in ids or [] if mid not in found]
    for mid in missing:
        err.print(
            f"no dead message with id {mid!r} in {', '.join(names)} (see `job-importer dlq list`)",
            markup=False,
            soft_wrap=True,
        )
    return missing


def _report(verb: str, count: int, missing: list[str], as_json: bool) -> None:
    if as_json:
        emit_json({"count": count, "not_found": missing})
    else:
        typer.echo(f"{verb} {count} message(s)")
    if missing:
        raise typer.Exit(exitcodes.NOT_FOUND)


@dlq_app.command("requeue")
def dlq_requeue(
    ids: IdsArgument = None, queue: QueueOption = None, all_: AllOption = False, as_json: JsonOption = False
) -> None:
    """Send dead messages back to their queue with fresh retries."""
    settings = get_settings()
    chosen = _chosen(ids, all_)
    names = _queues(settings, queue)
    located = _located(settings, names, chosen)
    missing = _missing(chosen, located, names)
    broker = build_broker(settings)
    total = 0
    for name, wanted in located.items():
        if wanted == []:
            continue
        requeued = DeadLetters.of(broker, name).requeue(broker, wanted)
        if wanted is not None and requeued < len(wanted):
            err.print(f"{len(wanted) - requeued} message(s) of {name} are not Dramatiq messages: purge them")
        total += requeued
    _report("requeued", total, missing, as_json)


@dlq_app.command("purge")
def dlq_purge(
    ids: IdsArgument = None,
    queue: QueueOption = None,
    all_: AllOption = False,
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Delete dead messages for good (asks first; --yes does not)."""
    settings = get_settings()
    chosen = _chosen(ids, all_)
    names = _queues(settings, queue)
    located = _located(settings, names, chosen)
    missing = _missing(chosen, located, names)
    client = _client(settings)
    if chosen is None:
        count = sum(DeadLetters(client, settings.queue_namespace, name).count() for name in names)
    else:
        count = sum(len(found or []) for found in located.values())
    if count:
        confirm(f"Delete {count} dead message(s) of {', '.join(names)} for good?", yes)
    pending = PendingItems.for_settings(client, settings)
    total = sum(
        DeadLetters(client, settings.queue_namespace, name).purge(pending, wanted)
        for name, wanted in located.items()
        if wanted != []
    )
    _report("purged", total, missing, as_json)
