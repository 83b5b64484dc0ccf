"""The CLI's two streams: results on stdout, progress and notes on stderr; and asking first."""

from __future__ import annotations

import sys
from typing import Any

import typer
from pydantic_core import to_json
from rich.console import Console

from cli import exitcodes

out = Console()
err = Console(stderr=True, soft_wrap=True)  # notes are never broken into lines


def say(message: str) -> None:
    err.print(f"[dim]» {message}[/dim]")


def fail(message: str, code: int) -> typer.Exit:
    """Print one line on stderr; the caller raises the returned Exit with ``code``."""
    err.print(message, markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def emit_json(data: Any) -> None:
    """JSON on stdout, one document, encoded as the API encodes it (pydantic's serializer: the same
    dates, ``2026-12-01T22:43:18.882000Z``; dataclasses as objects)."""
    typer.echo(to_json(data, fallback=str).decode())


def confirm(question: str, yes: bool) -> None:
    """Ask before destroying something; ``--yes`` skips it, and without a terminal it is required."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise typer.BadParameter("this deletes data for good: add --yes to confirm without a terminal")
    if not typer.confirm(question, default=False, err=True):
        raise fail("nothing deleted", exitcodes.RUN_FAILED)
