"""The `status` listing: an aligned table that fits the terminal, coloured only on one."""

from __future__ import annotations

import os
import shutil
from typing import IO, Any

from daemonctl import states
from daemonctl.cli.status_text import uptime
from daemonctl.quoting import printable, shell_join
from daemonctl.status import Report

HEADERS = ("NAME", "STATE", "PID", "UPTIME", "RESTARTS", "COMMAND")
RIGHT = {"PID", "UPTIME", "RESTARTS"}
COLOURS = {
    states.RUNNING: "green",
    states.RESTARTING: "yellow",
    states.DEAD: "red",
    states.FAILED: "red",
    states.UNKNOWN: "magenta",
}
ELLIPSIS = "..."


def use_colour(stream: IO[Any], environ: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    if environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def row(r: Report) -> tuple[str, ...]:
    live = r.state in states.ACTIVE
    sup = r.supervision
    shown = sup.program_pid if sup else (r.pid if live else None)
    pid = str(shown) if shown else "-"
    restarts = sup.restarts if sup else None
    command = shell_join(r.command) if r.command else printable(r.error or "")
    return (
        r.name or "-",
        r.state,
        pid,
        uptime(r.started_at) if live else "-",
        "-" if restarts is None else str(restarts),
        command,
    )


def render(reports: list[Report], width: int | None = None, colour: bool = False) -> list[str]:
    """The table's lines, each cut to `width` columns (default: the terminal's)."""
    if width is None:
        width = shutil.get_terminal_size().columns
    rows = [HEADERS, *(row(r) for r in reports)]
    widths = [max(len(cells[i]) for cells in rows) for i in range(len(HEADERS) - 1)]
    lines = []
    for n, cells in enumerate(rows):
        padded = [_pad(cell, widths[i], HEADERS[i] in RIGHT) for i, cell in enumerate(cells[:-1])]
        line = _cut("  ".join([*padded, cells[-1]]), width)
        if colour and n > 0:
            line = _colour_state(line, padded, cells[1])
        lines.append(line)
    return lines


def echo_table(reports: list[Report], empty: str) -> None:
    """Print the table on stdout, or the message `empty` on stderr when there is nothing to list."""
    import sys

    import click

    if not reports:
        click.echo(f"daemonctl: {empty}", err=True)
        return
    colour = use_colour(sys.stdout)
    for line in render(reports, colour=colour):
        click.echo(line, color=colour)


def _pad(cell: str, width: int, right: bool) -> str:
    return cell.rjust(width) if right else cell.ljust(width)


def _cut(line: str, width: int) -> str:
    line = line.rstrip()
    if len(line) <= width:
        return line
    return line[: max(width - len(ELLIPSIS), 0)] + ELLIPSIS


def _colour_state(line: str, padded: list[str], state: str) -> str:
    """Colour the STATE cell of an already cut line, when it is still whole there."""
    import click

    start = len(padded[0]) + 2
    end = start + len(state)
    if state not in COLOURS or line[start:end] != state:
        return line
    return line[:start] + click.style(state, fg=COLOURS[state], bold=True) + line[end:]
