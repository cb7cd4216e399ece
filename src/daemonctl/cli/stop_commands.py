"""stop, signal and remove (of a daemon, a pidfile's process, or every instance of a set)."""

from __future__ import annotations

from typing import Any

import click

from daemonctl.cli.commands import cli, is_set, one_target, progress_for, say, schedule_of, state_of
from daemonctl.cli.params import NAME_OR_SIGNAL, NAMES, SIGNALS, quiet_option, schedule_option, timeout_option
from daemonctl.errors import Failure, PrivilegeError, UsageError
from daemonctl.exitcodes import ExitStatus

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daemonctl.store.statedir import StateDir

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

    label = one_target(name, pidfile)
    state = state_of(ctx)
    if pidfile is None and is_set(state, name):
        from daemonctl.sets import stop_set

        assert name is not None
        for each in stop_set(state, name, schedule_of(timeout, schedule)):
            _render_stop(state, None, each)
        say(f"start the set {name} again with daemonctl start -n {name}")
        return ExitStatus.OK
    with progress_for(label) as progress:
        result = do_stop(state, name, pidfile, schedule_of(timeout, schedule).told(progress))
    _render_stop(state, name, result)
    return ExitStatus.OK


def _render_stop(state: StateDir, name: str | None, result: Any) -> None:
    from daemonctl.states import HALTED, NO_SUCH_DAEMON, STALE

    if result.note:
        click.echo(f"daemonctl: warning: {result.note}", err=True)
    if result.outcome == NO_SUCH_DAEMON:
        say(f"no daemon named {name} in {state.path}; nothing to stop")
    elif result.outcome == HALTED:
        again = f"; start it again with daemonctl start -n {name}" if name else ""
        if result.pid is not None:
            which = f" (pid {result.pid})"
        elif result.supervisor_pid is not None:
            which = f" (supervisor pid {result.supervisor_pid})"  # waiting out a restart delay: no program runs
        else:
            which = ""
        say(f"stopped {result.label}{which}{again}")
    elif result.outcome == STALE:
        say(f"{result.label} was not running; removed its stale pidfile (pid {result.pid} belongs to another process)")
    elif result.left_behind:
        pids = " ".join(map(str, result.left_behind[:10])) + (" ..." if len(result.left_behind) > 10 else "")
        say(f"{result.label} was not running; stopped the processes it left behind (pid {pids})")
    else:
        say(f"{result.label} was not running")




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
    one_target(name, pidfile)
    if signal_name is None:
        raise UsageError(f"no SIGNAL given: daemonctl signal {name or '-p PIDFILE'} HUP")
    try:
        sig = parse_signal(signal_name)
    except ValueError as err:
        raise UsageError(str(err)) from None
    state = state_of(ctx)
    if pidfile is None and is_set(state, name):
        from daemonctl.sets import signal_set

        assert name is not None
        for result in signal_set(state, name, sig):
            say(f"sent {name_of(result.signal)} to {result.label} (pid {result.pid})")
        return ExitStatus.OK
    result = send_signal(state, name, pidfile, sig)
    say(f"sent {name_of(result.signal)} to {result.label} (pid {result.pid})")
    return ExitStatus.OK




@cli.command()
@quiet_option
@click.argument("name", shell_complete=NAMES)
@click.pass_context
def remove(ctx: click.Context, name: str) -> int:
    """Forget a daemon that is not running (its log stays)."""
    from daemonctl.stop import forget

    try:
        state = state_of(ctx)
        if is_set(state, name):
            from daemonctl.sets import remove_set

            for member in remove_set(state, name):
                say(f"forgot {member}; its log was kept")
            return ExitStatus.OK
        result = forget(state, name)
    except PrivilegeError as err:
        raise Failure(err.message) from None  # remove's exit codes have no 4
    if result.log is None:
        say(f"forgot {result.name}, whose record was corrupt; its logs were kept")
    else:
        say(f"forgot {result.name}; its log {result.log} was kept")
    return ExitStatus.OK
