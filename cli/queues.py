"""Queues and dead letters: `job-importer queues`, `pause`, `resume`, `dlq ...`."""

from __future__ import annotations

import json
from typing import Annotated

import redis
import typer
from rich.table import Table

from cli.console import out
from job_importer.broker import build_broker
from job_importer.control import pause as pause_queues
from job_importer.control import resume as resume_queues
from job_importer.deadletters import DeadLetters
from job_importer.pending import PendingItems
from job_importer.queues import queue_names, queue_stats
from job_importer.settings import Settings, get_settings

dlq_app = typer.Typer(no_args_is_help=True, help="The dead-letter queues: messages whose retries ran out.")


def queues(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Messages per queue: ready, delayed (retrying), in progress, dead; and whether it is paused."""
    settings = get_settings()
    stats = queue_stats(redis.Redis.from_url(settings.redis_url), settings)
    if as_json:
        typer.echo(json.dumps([stat.as_dict() for stat in stats]))
        return
    table = Table(title="Queues")
    for column in ("queue", "ready", "delayed", "in progress", "dead", "paused"):
        table.add_column(column)
    for stat in stats:
        table.add_row(
            stat.queue,
            str(stat.ready),
            str(stat.delayed),
            str(stat.in_progress),
            str(stat.dead),
            "yes" if stat.paused else "no",
        )
    out.print(table)


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


def pause(queue: QueueOption = None) -> None:
    """Pause processing (messages stay queued)."""
    settings = get_settings()
    names = _queues(settings, queue)
    pause_queues(redis.Redis.from_url(settings.redis_url), settings.queue_namespace, names)
    out.print(f"paused: {', '.join(names)}")


def resume(queue: QueueOption = None) -> None:
    """Resume processing."""
    settings = get_settings()
    names = _queues(settings, queue)
    resume_queues(redis.Redis.from_url(settings.redis_url), settings.queue_namespace, names)
    out.print(f"resumed: {', '.join(names)}")


@dlq_app.command("list")
def dlq_list(
    queue: QueueOption = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Dead messages with their reason, newest first."""
    settings = get_settings()
    client = redis.Redis.from_url(settings.redis_url)
    dead = [
        letter
        for name in _queues(settings, queue)
        for letter in DeadLetters(client, settings.queue_namespace, name).list(limit=limit)
    ]
    if as_json:
        typer.echo(json.dumps([letter.as_dict() for letter in dead]))
        return
    table = Table(title="Dead letters")
    for column in ("id", "queue", "run", "items", "dead at", "reason"):
        table.add_column(column)
    for letter in dead:
        table.add_row(
            letter.message_id,
            letter.queue,
            letter.run_id or "",
            str(letter.items),
            f"{letter.dead_at:%Y-%m-%d %H:%M:%S}",
            letter.reason,
        )
    out.print(table)


IdsArgument = Annotated[list[str] | None, typer.Argument(help="Message ids; or --all")]


AllOption = Annotated[bool, typer.Option("--all", help="Every dead message")]


def _chosen(ids: list[str] | None, all_: bool) -> list[str] | None:
    """The message ids to act on; None means all of them."""
    if not ids and not all_:
        raise typer.BadParameter("give message ids or --all")
    return None if all_ else ids


@dlq_app.command("requeue")
def dlq_requeue(ids: IdsArgument = None, queue: QueueOption = None, all_: AllOption = False) -> None:
    """Send dead messages back to their queue with fresh retries."""
    settings = get_settings()
    chosen = _chosen(ids, all_)
    broker = build_broker(settings)
    total = sum(DeadLetters.of(broker, name).requeue(broker, chosen) for name in _queues(settings, queue))
    out.print(f"requeued {total} message(s)")


@dlq_app.command("purge")
def dlq_purge(ids: IdsArgument = None, queue: QueueOption = None, all_: AllOption = False) -> None:
    """Delete dead messages for good."""
    settings = get_settings()
    chosen = _chosen(ids, all_)
    client = redis.Redis.from_url(settings.redis_url)
    pending = PendingItems.for_settings(client, settings)
    total = sum(
        DeadLetters(client, settings.queue_namespace, name).purge(pending, chosen)
        for name in _queues(settings, queue)
    )
    out.print(f"purged {total} message(s)")
