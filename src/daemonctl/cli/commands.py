"""The command line: the group of every command, what the commands share, and `main`.

Each command is declared in a module of its own kind (start_commands, stop_commands,
status_commands, export_commands), imported when that command runs (trick 10 of
daemonctl/speedups.py). Core modules are imported inside the commands that need them,
so `status` or `--help` pays only for what it uses. Only cli/ knows Click and English.
"""

from __future__ import annotations

import os
import sys
from contextlib import nullcontext
from typing import Any

import click

from daemonctl.cli.error_handler import run_reporting
from daemonctl.cli.params import QUIET, FastGroup, quiet_option, version_option
from daemonctl.cli.speedups import LazyCommands
from daemonctl.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from daemonctl.progress import Progress
    from daemonctl.schedule import Schedule
    from daemonctl.store.statedir import StateDir


def state_of(ctx: click.Context) -> StateDir:
    from daemonctl.store.statedir import StateDir

    return StateDir.resolve(ctx.obj)


def say(message: str) -> None:
    """An informational message, which -q/--quiet silences."""
    ctx = click.get_current_context(silent=True)
    if ctx is None or not ctx.meta.get(QUIET):
        click.echo(f"daemonctl: {message}", err=True)


def progress_for(label: str) -> AbstractContextManager[Progress | None]:
    """A line on stderr showing what a long wait awaits, when stderr is a terminal and not -q."""
    ctx = click.get_current_context(silent=True)
    if (ctx is not None and ctx.meta.get(QUIET)) or not _is_terminal(sys.stderr):
        return nullcontext(None)  # cron, scripts, pipes: the line's modules stay unloaded
    from daemonctl.cli.progress import progress_line

    return progress_line(label, sys.stderr)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def one_target(name: str | None, pidfile: str | None) -> str:
    """The one of NAME and -p PIDFILE that was given (the daemon's label)."""
    if name is not None and pidfile is not None:
        raise UsageError("give either NAME or -p PIDFILE, not both")
    if name is not None:
        return name
    if pidfile is not None:
        return pidfile
    raise UsageError("give the NAME of a daemon, or -p PIDFILE")


def schedule_of(timeout: float | None, schedule: str | None) -> Schedule:
    from daemonctl.schedule import from_options

    return from_options(timeout, schedule)


def echo_json(value: Any) -> None:
    import json  # only here: the package compiles regular expressions at import

    click.echo(json.dumps(value, indent=2))


def basename(program: tuple[str, ...]) -> str | None:
    return program[0].rstrip("/").rpartition("/")[2] if program else None


def is_set(state: StateDir, name: str | None) -> bool:
    """NAME names a set of instances (and no daemon of its own)."""
    # One lstat for a daemon's name: the directory is listed only for a name with no record.
    if name is None or "@" in name or os.path.lexists(state.record(name)):
        return False
    names = state.names()
    if not any(n.startswith(f"{name}@") for n in names):
        return False  # no instance can be named so: the rules of names stay unloaded
    from daemonctl.instances import members

    return bool(members(names, name))


@click.group(cls=FastGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--state-dir", metavar="DIR", help="Where pidfiles, records and logs live.")
@quiet_option
@version_option
@click.pass_context
def cli(ctx: click.Context, state_dir: str | None) -> None:
    """Run any command as a proper Unix daemon, and stop it reliably."""
    ctx.obj = state_dir


cli.commands = LazyCommands({
    "start": "daemonctl.cli.start_commands",
    "restart": "daemonctl.cli.start_commands",
    "stop": "daemonctl.cli.stop_commands",
    "signal": "daemonctl.cli.stop_commands",
    "remove": "daemonctl.cli.stop_commands",
    "status": "daemonctl.cli.status_commands",
    "logs": "daemonctl.cli.status_commands",
    "export": "daemonctl.cli.export_commands",
    "serve": "daemonctl.cli.export_commands",
})


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every error becomes one line on stderr and its exit code."""
    return run_reporting(lambda: cli.main(args=argv, prog_name="daemonctl", standalone_mode=False))
