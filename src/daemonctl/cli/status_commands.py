"""status and logs: what runs, and what it wrote."""

from __future__ import annotations

import os
import sys

import click

from daemonctl.cli.commands import cli, echo_json, is_set, one_target, state_of
from daemonctl.cli.params import NAMES, QUIET, quiet_option
from daemonctl.exitcodes import ExitStatus, for_signal


@cli.command()
@quiet_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("-p", "--pidfile", metavar="PIDFILE", help="Check the PID in this pidfile.")
@click.argument("name", required=False, shell_complete=NAMES)
@click.pass_context
def status(ctx: click.Context, as_json: bool, pidfile: str | None, name: str | None) -> int:
    """Is NAME running? Without NAME, list every daemon."""
    from daemonctl import status as st

    state = state_of(ctx)
    if name is None and pidfile is None:
        reports = st.status_all(state)
        if as_json:
            echo_json([r.to_json() for r in reports])
        elif not ctx.meta.get(QUIET):
            from daemonctl.cli.table import echo_table

            echo_table(reports, f"no daemons in {state.path}; start one with daemonctl start -n NAME PROGRAM")
        return ExitStatus.OK
    one_target(name, pidfile)
    if pidfile is None and is_set(state, name):
        from daemonctl.instances import set_exit
        from daemonctl.sets import status_set

        assert name is not None
        reports = status_set(state, name)
        if as_json:
            echo_json([r.to_json() for r in reports])
        elif not ctx.meta.get(QUIET):
            from daemonctl.cli.table import echo_table

            echo_table(reports, f"no instances of {name}")
        return set_exit(r.exit_status for r in reports)
    report = st.status_one(state, name, pidfile)
    if as_json:
        echo_json(report.to_json())
    elif not ctx.meta.get(QUIET):
        from daemonctl.cli.status_text import describe

        click.echo(describe(report))
    return report.exit_status




@cli.command()
@quiet_option
@click.option("-n", "--lines", type=click.IntRange(min=0), default=10, show_default=True, help="How many lines.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines, across log rotation.")
@click.argument("name", required=False, shell_complete=NAMES)
@click.pass_context
def logs(ctx: click.Context, lines: int, follow: bool, name: str | None) -> int:
    """Print the last lines of the daemon's stdout log (of each instance of a set, or with no NAME
    of every daemon, each line prefixed by its name)."""
    from daemonctl.interrupts import Interrupted, InterruptGuard
    from daemonctl.store.logread import every_log, log_source, show
    from daemonctl.store.logsets import show_all

    state = state_of(ctx)
    if name is None:
        sources = every_log(state)
        if not sources:
            return ExitStatus.OK  # no daemon, nothing to show nor follow
    elif is_set(state, name):
        from daemonctl.sets import require_set

        sources = [(member, log_source(state, member)) for member in require_set(state, name).values()]
    else:
        sources = [(name, log_source(state, name))]
    out = sys.stdout.buffer

    def write(data: bytes) -> None:
        out.write(data)
        if follow:
            out.flush()

    try:
        with InterruptGuard() as guard, guard.raising():
            if len(sources) == 1 and sources[0][0] == name:
                show(sources[0][1], lines, follow, write)
            else:
                show_all(sources, lines, follow, write)
            out.flush()
    except Interrupted as stop:
        return for_signal(stop.signum)
    except BrokenPipeError:
        # The reader went away (`logs -f web | head`): end as a program killed by SIGPIPE would.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitStatus.BROKEN_PIPE
    return ExitStatus.OK
