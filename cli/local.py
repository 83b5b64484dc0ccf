"""The whole system on this machine: `job-importer up` and `demo` (they need devstack/)."""

from __future__ import annotations

import json
import secrets
import signal
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr

from cli.console import err, say
from cli.importing import print_summary, run_and_wait
from job_importer.redact import redact
from job_importer.settings import FeedConfig, Settings, get_settings


def ui_url(settings: Settings) -> str:
    """The admin UI's address; the token rides in the fragment, which browsers never send."""
    host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "::", "") else settings.api_host
    host = f"[{host}]" if ":" in host else host
    token = settings.api_token.get_secret_value() if settings.api_token else ""
    return f"http://{host}:{settings.api_port}/ui/" + (f"#token={token}" if token else "")


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
    from devstack.stack import local_stack

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
                first=lambda: print_summary(run_and_wait(live, feeds, "cli", 600.0, True)),
            )
            return
        with workers_running(live, say):
            summary = run_and_wait(live, feeds, "cli", 600.0, progress=not as_json)
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


def up() -> None:
    """Run everything on this machine (stack, scheduler, both services, API and UI) until Ctrl-C."""
    from cli.system import taken_ports
    from devstack.stack import local_stack

    settings = _with_session_token(get_settings())
    if taken := taken_ports(settings):
        message = "; ".join(taken) + ": is another `job-importer up` running? Stop it, or choose other ports."
        err.print(message, markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1)
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
