"""The CLI's two streams: results on stdout, progress and notes on stderr."""

from __future__ import annotations

from rich.console import Console

out = Console()
err = Console(stderr=True)


def say(message: str) -> None:
    err.print(f"[dim]» {message}[/dim]")
