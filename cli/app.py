"""The `job-importer` command: one Typer app, its commands grouped by what they are for.

This module only assembles them (and turns connection errors into one clear line); each
family lives in its own module: importing, history, queues (and ``dlq``), processes (what a
container runs) and local (the whole system on this machine, which needs devstack/).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import redis
import typer

from cli import exitcodes, feeds, history, importing, local, messages, processes, queues
from cli.console import err
from job_importer.redact import install_log_redaction, redact
from job_importer.settings import ConfigError

app = typer.Typer(
    no_args_is_help=True,
    help="Import job listings from RSS/Atom feeds into MongoDB.",
    epilog="Exit codes: 0 ok, 1 a run failed, 2 usage, 3 timed out, 4 Redis/MongoDB unreachable,"
    " 5 bad configuration, 6 no such message, 130 interrupted.",
)


def package_version() -> str:
    try:
        return version("job-importer")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"job-importer {package_version()}")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit"),
    ] = False,
) -> None:
    """Import job listings from RSS/Atom feeds into MongoDB."""


app.command("import")(importing.import_)
app.command()(local.demo)
app.command()(history.runs)
app.command()(history.failed)
app.command()(queues.queues)
app.command()(queues.pause)
app.command()(queues.resume)
app.add_typer(queues.dlq_app, name="dlq")
app.add_typer(messages.messages_app, name="messages")
app.add_typer(feeds.feeds_app, name="feeds")
app.command()(history.cleanup)
app.command()(processes.worker)
app.command()(processes.schedule)
app.command()(processes.api)
app.command()(local.up)


def main() -> None:
    """The console script: configuration and connection problems get one clear line, not a traceback."""
    from pymongo.errors import ConnectionFailure

    install_log_redaction()
    try:
        app()
    except ConfigError as exc:
        for line in str(exc).splitlines():
            err.print(f"configuration error: {line}", markup=False, highlight=False, soft_wrap=True)
        raise SystemExit(exitcodes.BAD_CONFIG) from None
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        err.print(
            f"[red]Redis does not answer ({redact(str(exc))}).[/red] Start `job-importer up`, or set REDIS_URL."
        )
        raise SystemExit(exitcodes.UNREACHABLE) from None
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] != "devstack":
            raise
        err.print(
            "[red]This command needs the dev stack (devstack/), which this installation does not have[/red]"
            " (the container images leave it out): run it from a source checkout."
        )
        raise SystemExit(1) from None
    except ConnectionFailure as exc:
        err.print(
            f"[red]MongoDB does not answer ({redact(str(exc))[:200]}).[/red] Start `job-importer up`, or set MONGODB_URL."
        )
        raise SystemExit(exitcodes.UNREACHABLE) from None
