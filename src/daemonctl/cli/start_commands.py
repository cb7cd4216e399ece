"""start and restart (of a daemon, or of a set: its instances, or a rolling restart)."""

from __future__ import annotations

from typing import Any

import click

from daemonctl.cli.commands import basename, cli, is_set, progress_for, say, schedule_of, state_of
from daemonctl.cli.params import NAMES, PASSTHROUGH, START_EPILOG, quiet_option, schedule_option, timeout_option
from daemonctl.cli.start_params import StartCommand, start_options, update_env_option
from daemonctl.errors import UsageError
from daemonctl.exitcodes import ExitStatus

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daemonctl.schedule import Schedule
    from daemonctl.start import StartResult
    from daemonctl.store.statedir import StateDir

@cli.command(cls=StartCommand, context_settings=PASSTHROUGH, epilog=START_EPILOG)
@quiet_option
@start_options
@click.argument("program", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def start(ctx: click.Context, /, program: tuple[str, ...], **opts: Any) -> int:
    """Start PROGRAM [ARG]... as a daemon (or NAME again from its record)."""
    from daemonctl.options import StartOptions, parse_given
    from daemonctl.start import start as do_start

    if not program and opts["name"] is None:
        raise UsageError("no PROGRAM given (or -n NAME to start a daemon again from its record)")
    options = StartOptions(program=program, **parse_given(opts))
    state = state_of(ctx)
    # A set's NAME without --instances: the set again (from its records, or "already running").
    if options.instances is not None or is_set(state, options.name or basename(program)):
        return _start_set(state, options)
    with progress_for(opts["name"] or program[0].rstrip("/").rpartition("/")[2]) as progress:
        result = do_start(state, options, progress)
    render_start(result)
    return ExitStatus.OK


def _start_set(state: StateDir, options: Any) -> int:
    from daemonctl.schedule import default_schedule
    from daemonctl.sets import start_set

    with progress_for(options.name or basename(options.program) or "") as progress:
        result = start_set(state, options, default_schedule(10.0), progress)
    size = len(result.plan.start) + len(result.plan.keep)
    for stopped in result.stopped:
        say(f"stopped and removed {stopped.label} (the set {result.name} has {size} instances now)")
    for i in result.plan.keep:
        say(f"{result.name}@{i} is already running")
    for started in result.started:
        render_start(started)
    return ExitStatus.OK




@cli.command(context_settings=PASSTHROUGH)
@quiet_option
@timeout_option
@schedule_option
@update_env_option
@click.argument("name", shell_complete=NAMES)
@click.argument("program", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def restart(ctx: click.Context, timeout: float | None, schedule: str | None, update_env: bool, name: str,
            program: tuple[str, ...]) -> int:
    """Stop NAME if it runs, then start it again [with a new PROGRAM]."""
    from daemonctl.start import restart as do_restart

    # With interspersed arguments off, Click keeps a "--" that follows NAME: it is
    # restart's separator, not part of the program.
    if program[:1] == ("--",):
        program = program[1:]
    state = state_of(ctx)
    if is_set(state, name):
        return _restart_set(state, name, program, schedule_of(timeout, schedule), update_env)
    with progress_for(name) as progress:
        result = do_restart(state, name, program, schedule_of(timeout, schedule), update_env, progress)
    render_start(result)
    return ExitStatus.OK


def _restart_set(state: StateDir, name: str, program: tuple[str, ...], schedule: Schedule, update_env: bool) -> int:
    from daemonctl.sets import restart_set

    with progress_for(name) as progress:
        rolled = restart_set(state, name, program, schedule, update_env, progress)
    for result in rolled.results:
        render_start(result)
    failure = rolled.failure()
    if failure is not None:
        raise failure
    return ExitStatus.OK


def render_start(result: StartResult) -> None:
    if result.already_running:
        say(f"{result.name} is already running (pid {result.pid}); restart it with daemonctl restart {result.name}")
    elif getattr(result, "supervisor_pid", None) is not None:
        say(f"started {result.name} (pid {result.pid}, supervisor pid {result.supervisor_pid}), "
             f"logging to {result.spec.stdout}; see daemonctl status {result.name}")
    else:
        say(f"started {result.name} (pid {result.pid}), logging to {result.spec.stdout}; "
             f"see daemonctl status {result.name}")
