"""The `job-importer` command: imports, history, queues, dead letters, workers, the local system."""

from __future__ import annotations

import json
import os
import secrets
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import redis
import typer
from pydantic import SecretStr
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli import polling
from cli.workers import Service, worker_argv, worker_env
from devstack.stack import local_stack
from job_importer import failed_items, history
from job_importer.broker import build_broker
from job_importer.control import pause as pause_queues
from job_importer.control import resume as resume_queues
from job_importer.db import Store, ensure_indexes, get_store
from job_importer.deadletters import list_dead, purge_dead, requeue_dead
from job_importer.pending import PendingItems
from job_importer.queues import queue_names, queue_stats
from job_importer.redact import install_log_redaction, redact
from job_importer.settings import FeedConfig, Settings, get_settings

app = typer.Typer(no_args_is_help=True, help="Import job listings from RSS/Atom feeds into MongoDB.")
dlq_app = typer.Typer(no_args_is_help=True, help="The dead-letter queues: messages whose retries ran out.")
app.add_typer(dlq_app, name="dlq")

out = Console()
err = Console(stderr=True)


def ui_url(settings: Settings) -> str:
    """The admin UI's address; the token rides in the fragment, which browsers never send."""
    host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "::", "") else settings.api_host
    host = f"[{host}]" if ":" in host else host
    token = settings.api_token.get_secret_value() if settings.api_token else ""
    return f"http://{host}:{settings.api_port}/ui/" + (f"#token={token}" if token else "")


def say(message: str) -> None:
    err.print(f"[dim]» {message}[/dim]")


def _store(settings: Settings) -> Store:
    store = get_store(settings)
    ensure_indexes(store)
    return store


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
        table.add_row(run["feed"], status, *(str(run[name]) for name in columns[2:]))
    totals = summary["totals"]
    table.add_row("[bold]total[/bold]", "", *(f"[bold]{totals[name]}[/bold]" for name in columns[2:]))
    out.print(table)


def _run_and_wait(
    settings: Settings, feeds: list[FeedConfig], trigger: history.Trigger, timeout_s: float, progress: bool
) -> dict[str, Any]:
    from job_importer.trigger import start_import

    store = _store(settings)
    started = start_import(settings, store, build_broker(settings), feeds, trigger)
    runs = wait_for_batch(store, started.batch_id, len(started.run_ids), timeout_s, show_progress=progress)
    return {"batch_id": started.batch_id, **history.summarize(runs)}


@app.command("import")
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
    from job_importer.trigger import start_import

    settings = get_settings()
    feeds = _feeds(settings, feed)
    if not wait:
        started = start_import(settings, _store(settings), build_broker(settings), feeds, "cli")
        result = {"batch_id": started.batch_id, "run_ids": started.run_ids}
        out.print_json(data=result) if as_json else out.print(
            f"started {started.batch_id}: {len(started.run_ids)} run(s)"
        )
        return
    with local_stack(settings, say) as live, workers_running(live, say):
        summary = _run_and_wait(live, feeds, "cli", timeout, progress=not as_json)
    if as_json:
        typer.echo(json.dumps(summary, default=str))
    else:
        print_summary(summary)
    raise typer.Exit(0 if all(run["status"] == "completed" for run in summary["runs"]) else 1)


@app.command()
def demo(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
    serve: Annotated[
        bool, typer.Option(help="Then keep everything running, with the admin UI, until Ctrl-C")
    ] = False,
) -> None:
    """Serve the bundled sample feeds on loopback and import them: the whole pipeline, offline."""
    from cli.system import workers_running
    from devstack import demo as demo_feeds
    from devstack.feedserver import FeedServer

    settings = get_settings()
    files = demo_feeds.load()
    with (
        local_stack(settings, say) as live,
        FeedServer({f"/{name}": body for name, body in files.items()}, validators=False) as server,
    ):
        feeds = [
            FeedConfig(url=server.url(f"/{name}"), source=source)
            for name, source in demo_feeds.DEMO_FEEDS.items()
        ]
        say(f"serving {len(files)} demo feeds on {server.url('/')}")
        if serve:  # the demo feeds become the configured feeds, so the UI can import them again
            live = _with_session_token(
                live.model_copy(update={"feeds": [], "feeds_file": _feeds_file(feeds)})
            )
            _serve(
                live,
                scheduler=False,
                first=lambda: print_summary(_run_and_wait(live, feeds, "cli", 600.0, True)),
            )
            return
        with workers_running(live, say):
            summary = _run_and_wait(live, feeds, "cli", 600.0, progress=not as_json)
    if as_json:
        typer.echo(json.dumps(summary, default=str))
    else:
        print_summary(summary)


def _feeds_file(feeds: list[FeedConfig]) -> Path:
    """A feeds TOML file for child processes (JSON strings are valid TOML basic strings)."""
    path = Path(tempfile.mkdtemp(prefix="job-importer-")) / "feeds.toml"
    entries = (
        f"[[feeds]]\nurl = {json.dumps(feed.url)}\nsource = {json.dumps(feed.source)}\n" for feed in feeds
    )
    path.write_text("\n".join(entries), encoding="utf-8")
    return path


@app.command()
def runs(
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    feed: Annotated[str | None, typer.Option(help="Only runs of this feed URL")] = None,
    status: Annotated[str | None, typer.Option(help="Only runs with this status")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show the import history, newest first."""
    rows = history.list_runs(_store(get_settings()), limit=limit, feed_url=feed, status=status)
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


@app.command()
def failed(
    run: Annotated[str | None, typer.Option(help="Only items of this run")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show items that could not be imported, with the reason."""
    rows = failed_items.list_failed(_store(get_settings()), run_id=run, limit=limit)
    if as_json:
        typer.echo(json.dumps(rows, default=str))
        return
    table = Table(title="Failed items")
    for column in ("run", "guid", "stage", "reason"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["run_id"], str(row.get("guid") or ""), row.get("stage", ""), row["reason"])
    out.print(table)


@app.command()
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


@app.command()
def pause(queue: QueueOption = None) -> None:
    """Pause processing (messages stay queued)."""
    settings = get_settings()
    names = _queues(settings, queue)
    pause_queues(redis.Redis.from_url(settings.redis_url), settings.queue_namespace, names)
    out.print(f"paused: {', '.join(names)}")


@app.command()
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
        for letter in list_dead(client, settings.queue_namespace, name, limit=limit)
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
    total = sum(
        requeue_dead(broker, settings.queue_namespace, name, chosen) for name in _queues(settings, queue)
    )
    out.print(f"requeued {total} message(s)")


@dlq_app.command("purge")
def dlq_purge(ids: IdsArgument = None, queue: QueueOption = None, all_: AllOption = False) -> None:
    """Delete dead messages for good."""
    settings = get_settings()
    chosen = _chosen(ids, all_)
    client = redis.Redis.from_url(settings.redis_url)
    pending = PendingItems(client, settings.queue_namespace, settings.import_queue, settings.dedupe_ttl_s)
    total = sum(
        purge_dead(client, settings.queue_namespace, name, pending, chosen)
        for name in _queues(settings, queue)
    )
    out.print(f"purged {total} message(s)")


@app.command()
def cleanup(
    days: Annotated[int | None, typer.Option(min=1, help="Default: HISTORY_RETENTION_DAYS")] = None,
) -> None:
    """Delete finished runs and failed items older than the retention period."""
    settings = get_settings()
    deleted = history.cleanup(_store(settings), timedelta(days=days or settings.history_retention_days))
    out.print(f"deleted {deleted['runs']} run(s) and {deleted['failed_items']} failed item(s)")


@app.command()
def worker(service: Annotated[str, typer.Argument(help="fetcher or importer")]) -> None:
    """Run the Dramatiq workers of one service (replaces this process)."""
    if service not in ("fetcher", "importer"):
        raise typer.BadParameter("fetcher or importer", param_hint="SERVICE")
    chosen: Service = "fetcher" if service == "fetcher" else "importer"
    settings = get_settings()
    argv = worker_argv(chosen, settings)
    os.execve(argv[0], argv, {**os.environ, **worker_env(chosen, settings)})


@app.command()
def schedule(once: Annotated[bool, typer.Option(help="Enqueue the current slot, then exit")] = False) -> None:
    """Enqueue one fetch per feed per cron slot (SCHEDULE_CRON), exactly once across schedulers."""
    from services.scheduler.slots import run_scheduler

    settings = get_settings()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # Kubernetes stops a Job's pod with SIGTERM
    try:
        run_scheduler(settings, _store(settings), build_broker(settings), once=once, stop=stop)
    except KeyboardInterrupt:
        stop.set()


@app.command()
def api(
    host: Annotated[str | None, typer.Option(help="Default: API_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="Default: API_PORT")] = None,
) -> None:
    """Serve the HTTP API, the admin UI (/ui/) and /metrics."""
    import uvicorn

    from services.api.app import create_app

    settings = get_settings()
    uvicorn.run(
        create_app(settings),
        host=host or settings.api_host,
        port=port or settings.api_port,
        log_level="warning",
        timeout_graceful_shutdown=5,  # open event streams would otherwise hold shutdown
    )


@app.command()
def up() -> None:
    """Run everything on this machine (stack, scheduler, both services, API and UI) until Ctrl-C."""
    settings = _with_session_token(get_settings())
    with local_stack(settings, say) as live:
        _serve(live, scheduler=True)


def _with_session_token(settings: Settings) -> Settings:
    """Settings with an API token: the configured one, or one made for this session."""
    if settings.api_token is not None:
        return settings
    return settings.model_copy(update={"api_token": SecretStr(secrets.token_urlsafe(18))})


def _serve(live: Settings, *, scheduler: bool, first: Callable[[], None] | None = None) -> None:
    """Run workers, API (and scheduler) as supervised children until Ctrl-C or SIGTERM."""
    from cli.system import start_system, wait_for_workers

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` stops it as cleanly as Ctrl-C
    supervisor = start_system(live, say, scheduler=scheduler, api=True)
    stop = threading.Event()
    try:
        wait_for_workers(live)
        if first is not None:
            first()
        say(
            f"running: Redis {redact(live.redis_url)}, MongoDB {redact(live.mongodb_url)}; Ctrl-C stops everything"
        )
        typer.echo(f"Admin UI: {ui_url(live)}")  # plain: never wrapped or styled
        supervisor.watch(stop)
    except KeyboardInterrupt:
        say("stopping (in-flight messages finish first)")
    finally:
        stop.set()
        supervisor.stop()


def main() -> None:
    """The console script: connection problems get one clear line, not a traceback."""
    from pymongo.errors import ConnectionFailure

    install_log_redaction()
    try:
        app()
    except redis.ConnectionError as exc:
        err.print(f"[red]Redis does not answer ({exc}).[/red] Start `job-importer up`, or set REDIS_URL.")
        raise SystemExit(1) from None
    except ConnectionFailure as exc:
        err.print(
            f"[red]MongoDB does not answer ({str(exc)[:200]}).[/red] Start `job-importer up`, or set MONGODB_URL."
        )
        raise SystemExit(1) from None
