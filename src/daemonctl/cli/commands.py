"""The command line: parse, call the core, render, map errors to exit codes. Nothing else.

Core modules are imported inside the commands that need them, so `status`
or `--help` pays only for what it uses.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from daemonctl.cli.error_handler import run_reporting
from daemonctl.cli.params import (
    NAME_OR_SIGNAL,
    NAMES,
    PASSTHROUGH,
    QUIET,
    SIGNALS,
    START_EPILOG,
    FastGroup,
    quiet_option,
    schedule_option,
    timeout_option,
    version_option,
)
from daemonctl.cli.speedups import file_path
from daemonctl.cli.start_params import StartCommand, start_options, update_env_option
from daemonctl.errors import Failure, PrivilegeError, UsageError
from daemonctl.exitcodes import ExitStatus, for_signal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from daemonctl.progress import Progress
    from daemonctl.schedule import Schedule
    from daemonctl.start import StartResult
    from daemonctl.store.statedir import StateDir


def _state(ctx: click.Context) -> StateDir:
    from daemonctl.store.statedir import StateDir

    return StateDir.resolve(ctx.obj)


def _say(message: str) -> None:
    """An informational message, which -q/--quiet silences."""
    ctx = click.get_current_context(silent=True)
    if ctx is None or not ctx.meta.get(QUIET):
        click.echo(f"daemonctl: {message}", err=True)


def _progress(label: str) -> AbstractContextManager[Progress | None]:
    """A line on stderr showing what a long wait awaits, when stderr is a terminal and not -q."""
    from daemonctl.cli.progress import progress_line

    ctx = click.get_current_context(silent=True)
    return progress_line(label, sys.stderr, ctx is None or not ctx.meta.get(QUIET))


def _one_target(name: str | None, pidfile: str | None) -> str:
    """The one of NAME and -p PIDFILE that was given (the daemon's label)."""
    if name is not None and pidfile is not None:
        raise UsageError("give either NAME or -p PIDFILE, not both")
    if name is not None:
        return name
    if pidfile is not None:
        return pidfile
    raise UsageError("give the NAME of a daemon, or -p PIDFILE")


def _schedule(timeout: float | None, schedule: str | None) -> Schedule:
    from daemonctl.schedule import from_options

    return from_options(timeout, schedule)


def _echo_json(value: Any) -> None:
    import json  # only here: the package compiles regular expressions at import

    click.echo(json.dumps(value, indent=2))


@click.group(cls=FastGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--state-dir", metavar="DIR", help="Where pidfiles, records and logs live.")
@quiet_option
@version_option
@click.pass_context
def cli(ctx: click.Context, state_dir: str | None) -> None:
    """Run any command as a proper Unix daemon, and stop it reliably."""
    ctx.obj = state_dir


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
    state = _state(ctx)
    # A set's NAME without --instances: the set again (from its records, or "already running").
    if options.instances is not None or _is_set(state, options.name or _basename(program)):
        return _start_set(state, options)
    with _progress(opts["name"] or program[0].rstrip("/").rpartition("/")[2]) as progress:
        result = do_start(state, options, progress)
    _render_start(result)
    return ExitStatus.OK


def _basename(program: tuple[str, ...]) -> str | None:
    return program[0].rstrip("/").rpartition("/")[2] if program else None


def _is_set(state: StateDir, name: str | None) -> bool:
    """NAME names a set of instances (and no daemon of its own)."""
    # One lstat for a daemon's name: the directory is listed only for a name with no record.
    if name is None or "@" in name or os.path.lexists(state.record(name)):
        return False
    names = state.names()
    if not any(n.startswith(f"{name}@") for n in names):
        return False  # no instance can be named so: the rules of names stay unloaded
    from daemonctl.instances import members

    return bool(members(names, name))


def _start_set(state: StateDir, options: Any) -> int:
    from daemonctl.schedule import default_schedule
    from daemonctl.sets import start_set

    with _progress(options.name or _basename(options.program) or "") as progress:
        result = start_set(state, options, default_schedule(10.0), progress)
    size = len(result.plan.start) + len(result.plan.keep)
    for stopped in result.stopped:
        _say(f"stopped and removed {stopped.label} (the set {result.name} has {size} instances now)")
    for i in result.plan.keep:
        _say(f"{result.name}@{i} is already running")
    for started in result.started:
        _render_start(started)
    return ExitStatus.OK


def _render_start(result: StartResult) -> None:
    if result.already_running:
        _say(f"{result.name} is already running (pid {result.pid}); restart it with daemonctl restart {result.name}")
    elif getattr(result, "supervisor_pid", None) is not None:
        _say(f"started {result.name} (pid {result.pid}, supervisor pid {result.supervisor_pid}), "
             f"logging to {result.spec.stdout}; see daemonctl status {result.name}")
    else:
        _say(f"started {result.name} (pid {result.pid}), logging to {result.spec.stdout}; "
             f"see daemonctl status {result.name}")


@cli.command()
@quiet_option
@timeout_option
@schedule_option
@click.option("-p", "--pidfile", metavar="PIDFILE", help="Act on the PID in this pidfile.")
@click.argument("name", required=False, shell_complete=NAMES)
@click.pass_context
def stop(ctx: click.Context, timeout: float | None, schedule: str | None, pidfile: str | None, name: str | None) -> int:
    """Stop a daemon (or every instance of a set, at once): TERM, then HUP, then KILL to its process group."""
    from daemonctl.stop import stop as do_stop

    label = _one_target(name, pidfile)
    state = _state(ctx)
    if pidfile is None and _is_set(state, name):
        from daemonctl.sets import stop_set

        assert name is not None
        for each in stop_set(state, name, _schedule(timeout, schedule)):
            _render_stop(state, None, each)
        _say(f"start the set {name} again with daemonctl start -n {name}")
        return ExitStatus.OK
    with _progress(label) as progress:
        result = do_stop(state, name, pidfile, _schedule(timeout, schedule).told(progress))
    _render_stop(state, name, result)
    return ExitStatus.OK


def _render_stop(state: StateDir, name: str | None, result: Any) -> None:
    from daemonctl.states import HALTED, NO_SUCH_DAEMON, STALE

    if result.note:
        click.echo(f"daemonctl: warning: {result.note}", err=True)
    if result.outcome == NO_SUCH_DAEMON:
        _say(f"no daemon named {name} in {state.path}; nothing to stop")
    elif result.outcome == HALTED:
        again = f"; start it again with daemonctl start -n {name}" if name else ""
        if result.pid is not None:
            which = f" (pid {result.pid})"
        elif result.supervisor_pid is not None:
            which = f" (supervisor pid {result.supervisor_pid})"  # waiting out a restart delay: no program runs
        else:
            which = ""
        _say(f"stopped {result.label}{which}{again}")
    elif result.outcome == STALE:
        _say(f"{result.label} was not running; removed its stale pidfile (pid {result.pid} belongs to another process)")
    elif result.left_behind:
        pids = " ".join(map(str, result.left_behind[:10])) + (" ..." if len(result.left_behind) > 10 else "")
        _say(f"{result.label} was not running; stopped the processes it left behind (pid {pids})")
    else:
        _say(f"{result.label} was not running")


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
    state = _state(ctx)
    if _is_set(state, name):
        return _restart_set(state, name, program, _schedule(timeout, schedule), update_env)
    with _progress(name) as progress:
        result = do_restart(state, name, program, _schedule(timeout, schedule), update_env, progress)
    _render_start(result)
    return ExitStatus.OK


def _restart_set(state: StateDir, name: str, program: tuple[str, ...], schedule: Schedule, update_env: bool) -> int:
    from daemonctl.errors import DaemonctlError
    from daemonctl.sets import restart_set

    with _progress(name) as progress:
        rolled = restart_set(state, name, program, schedule, update_env, progress)
    for result in rolled.results:
        _render_start(result)
    if rolled.failed is not None:
        err = rolled.failed.error
        why = err.message if isinstance(err, DaemonctlError) else str(err)
        raise Failure(f"rolling restart of {name} stopped at {name}@{rolled.failed.number}, which did not come back "
                      f"({why}); the instances after it were left as they were",
                      err.log_tail if isinstance(err, DaemonctlError) else None)
    return ExitStatus.OK


@cli.command()
@quiet_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("-p", "--pidfile", metavar="PIDFILE", help="Check the PID in this pidfile.")
@click.argument("name", required=False, shell_complete=NAMES)
@click.pass_context
def status(ctx: click.Context, as_json: bool, pidfile: str | None, name: str | None) -> int:
    """Is NAME running? Without NAME, list every daemon."""
    from daemonctl import status as st

    state = _state(ctx)
    if name is None and pidfile is None:
        reports = st.status_all(state)
        if as_json:
            _echo_json([r.to_json() for r in reports])
        elif not ctx.meta.get(QUIET):
            from daemonctl.cli.table import echo_table

            echo_table(reports, f"no daemons in {state.path}; start one with daemonctl start -n NAME PROGRAM")
        return ExitStatus.OK
    _one_target(name, pidfile)
    if pidfile is None and _is_set(state, name):
        from daemonctl.instances import set_exit
        from daemonctl.sets import status_set

        assert name is not None
        reports = status_set(state, name)
        if as_json:
            _echo_json([r.to_json() for r in reports])
        elif not ctx.meta.get(QUIET):
            from daemonctl.cli.table import echo_table

            echo_table(reports, f"no instances of {name}")
        return set_exit(r.exit_status for r in reports)
    report = st.status_one(state, name, pidfile)
    if as_json:
        _echo_json(report.to_json())
    elif not ctx.meta.get(QUIET):
        from daemonctl.cli.status_text import describe

        click.echo(describe(report))
    return report.exit_status


@cli.command("signal")
@quiet_option
@click.option("-p", "--pidfile", metavar="PIDFILE", help="Act on the PID in this pidfile.")
@click.argument("name", metavar="[NAME]", required=False, shell_complete=NAME_OR_SIGNAL)
@click.argument("signal_name", metavar="SIGNAL", required=False, shell_complete=SIGNALS)
@click.pass_context
def signal_cmd(ctx: click.Context, pidfile: str | None, name: str | None, signal_name: str | None) -> int:
    """Send SIGNAL (HUP, SIGHUP or 1) to the daemon NAME, or to the PID in PIDFILE."""
    from daemonctl.signals import parse_signal
    from daemonctl.signals import signal_name as name_of
    from daemonctl.stop import send_signal

    if pidfile is not None and signal_name is None:
        name, signal_name = None, name  # `signal -p PIDFILE SIGNAL`: the one argument is SIGNAL
    _one_target(name, pidfile)
    if signal_name is None:
        raise UsageError(f"no SIGNAL given: daemonctl signal {name or '-p PIDFILE'} HUP")
    try:
        sig = parse_signal(signal_name)
    except ValueError as err:
        raise UsageError(str(err)) from None
    state = _state(ctx)
    if pidfile is None and _is_set(state, name):
        from daemonctl.sets import signal_set

        assert name is not None
        for result in signal_set(state, name, sig):
            _say(f"sent {name_of(result.signal)} to {result.label} (pid {result.pid})")
        return ExitStatus.OK
    result = send_signal(state, name, pidfile, sig)
    _say(f"sent {name_of(result.signal)} to {result.label} (pid {result.pid})")
    return ExitStatus.OK


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

    state = _state(ctx)
    if name is None:
        sources = every_log(state)
        if not sources:
            return ExitStatus.OK  # no daemon, nothing to show nor follow
    elif _is_set(state, name):
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


@cli.command()
@quiet_option
@click.argument("name", shell_complete=NAMES)
@click.pass_context
def remove(ctx: click.Context, name: str) -> int:
    """Forget a daemon that is not running (its log stays)."""
    from daemonctl.stop import forget

    try:
        state = _state(ctx)
        if _is_set(state, name):
            from daemonctl.sets import remove_set

            for member in remove_set(state, name):
                _say(f"forgot {member}; its log was kept")
            return ExitStatus.OK
        result = forget(state, name)
    except PrivilegeError as err:
        raise Failure(err.message) from None  # remove's exit codes have no 4
    if result.log is None:
        _say(f"forgot {result.name}, whose record was corrupt; its logs were kept")
    else:
        _say(f"forgot {result.name}; its log {result.log} was kept")
    return ExitStatus.OK


@cli.command("export")
@quiet_option
@timeout_option
@schedule_option
@click.argument("kind", metavar="FORMAT", type=click.Choice(["systemd", "supervisor"]))
@click.argument("name", shell_complete=NAMES)
@click.pass_context
def export_cmd(ctx: click.Context, timeout: float | None, schedule: str | None, kind: str, name: str) -> int:
    """Print NAME as a systemd unit or a supervisord [program:NAME] section (a set: a template unit, numprocs)."""
    from daemonctl import export

    state = _state(ctx)
    a_set = export.load_set(state, name) if "@" not in name else None
    if a_set is not None:
        from daemonctl.export.sets import default_pidfile

        record, count = a_set
        text, notes = export.render(kind, record, _schedule(timeout, schedule), default_pidfile(state, name), count)
    else:
        record = export.load(state, name)
        text, notes = export.render(kind, record, _schedule(timeout, schedule), state.pidfile(record.name))
    click.echo(text, nl=False)
    for note in notes:  # also comments in the text; -q does not hide what was not exported
        click.echo(f"daemonctl: warning: {kind} export of {record.name} leaves out {note}", err=True)
    return ExitStatus.OK


@cli.command()
@quiet_option
@click.option("--socket", "socket_path", type=file_path(), metavar="PATH",
              help="Serve on this unix socket (default STATE_DIR/daemonctl.sock, mode 0600).")
@click.option("--listen", "listen_on", metavar="[HOST:]PORT",
              help="Serve on TCP instead (HOST 127.0.0.1 by default); the API then needs the token.")
@click.option("--token-file", type=file_path(), metavar="FILE",
              help="The API's bearer token; made (mode 0600) when missing (default STATE_DIR/daemonctl.token).")
@click.option("--read-only", is_flag=True, help="Refuse every change (403).")
@click.pass_context
def serve(ctx: click.Context, socket_path: str | None, listen_on: str | None, token_file: str | None,
          read_only: bool) -> int:
    """Serve the JSON API and the web dashboard until stopped."""
    from daemonctl.serve.server import serve as do_serve

    def announce(where: str, token_path: str | None) -> None:
        _say(f"serving {where}" + (f" (API token in {token_path})" if token_path else ""))

    do_serve(_state(ctx), socket_path, listen_on, token_file, read_only, announce)
    return ExitStatus.OK


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every error becomes one line on stderr and its exit code."""
    return run_reporting(lambda: cli.main(args=argv, prog_name="daemonctl", standalone_mode=False))
