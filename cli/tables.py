"""Tables that never cut data: a framed table when it fits, records stacked when it does not.

Rich shortens cells to fit the terminal (``202…``, ``htt…``) and wraps at 80 columns when stdout
is not a terminal at all, so an id pasted from ``dlq list`` matched nothing. Here nothing is ever
shortened or broken:

* stdout is not a terminal (a pipe, a file): plain aligned columns, one line per row, as wide as
  the data (``grep``/``awk`` friendly, no frame, no colour);
* a terminal wide enough for the table at its natural width: a framed table;
* a narrower terminal: one block per row, ``column: value`` per line, written as plain text so
  long values run on and the terminal wraps them without inserting anything.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from rich import box
from rich.table import Table
from rich.text import Text

from cli.console import out

#: What the frame costs a table of n columns: a border and one space of padding either side of each.
_FRAME_PER_COLUMN = 3


@dataclass
class Listing:
    """Rows under column headers; ``numeric`` columns are right-aligned in a table."""

    title: str
    columns: Sequence[str]
    rows: list[list[str]] = field(default_factory=list)
    numeric: frozenset[str] = frozenset()

    def add(self, *cells: object) -> None:
        self.rows.append(["" if cell is None else str(cell) for cell in cells])

    def natural_width(self) -> int:
        widths = [
            max([len(header), *(len(row[i]) for row in self.rows)]) for i, header in enumerate(self.columns)
        ]
        return sum(widths) + _FRAME_PER_COLUMN * len(widths) + 1


def show(listing: Listing) -> None:
    """Print the listing in the layout that fits where stdout goes (see the module docstring)."""
    if not out.is_terminal:
        _write(plain(listing))
    elif listing.natural_width() <= out.width:
        out.print(_framed(listing))
    else:
        _write(stacked(listing))


def plain(listing: Listing) -> str:
    """Aligned columns, a header line, no frame: every cell whole."""
    table = [list(listing.columns), *listing.rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(listing.columns))]
    lines = []
    for row in table:
        cells = [
            cell.rjust(width) if header in listing.numeric else cell.ljust(width)
            for cell, width, header in zip(row, widths, listing.columns, strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def stacked(listing: Listing) -> str:
    """One block per row: ``column: value`` lines, a blank line between rows."""
    width = max(len(header) for header in listing.columns)
    blocks = [
        "\n".join(f"{header.rjust(width)}: {cell}" for header, cell in zip(listing.columns, row, strict=True))
        for row in listing.rows
    ]
    return f"{listing.title}\n\n" + "\n\n".join(blocks) + ("\n" if blocks else "")


def _framed(listing: Listing) -> Table:
    table = Table(title=listing.title, box=box.ROUNDED)
    for header in listing.columns:
        table.add_column(header, justify="right" if header in listing.numeric else "left", no_wrap=True)
    for row in listing.rows:
        table.add_row(*(Text(cell) for cell in row))  # Text: a "[...]" in a reason is no markup
    return table


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
