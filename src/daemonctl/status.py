"""status: what state a daemon is in, as a report (plain data) that the CLI words (cli/status_text.py) or prints as JSON."""

from datetime import UTC, datetime
from typing import Any

from daemonctl.errors import DaemonctlError, NotRunning, StatusUnknown, UnreadableRecord
from daemonctl.exitcodes import ExitStatus
from daemonctl.proc.usage import NO_FIGURES, Usage
from daemonctl.reconcile import Daemon, inspect, leftovers, resolve, trusted
from daemonctl.speedups import NamedTuple
from daemonctl.start_options import RECORDED
from daemonctl.states import DEAD, EXITED, FAILED, NOT_RUNNING, RESTARTING, RUNNING, UNKNOWN
from daemonctl.store.record import StartSpec
from daemonctl.store.statedir import StateDir

EXIT_BY_STATE = {
    RUNNING: ExitStatus.OK,
    RESTARTING: ExitStatus.OK,  # the supervisor runs and is about to start the program again
    DEAD: ExitStatus.FAILURE,
    NOT_RUNNING: ExitStatus.NOT_RUNNING,
    EXITED: ExitStatus.NOT_RUNNING,
    FAILED: ExitStatus.NOT_RUNNING,
}


class Supervision(NamedTuple):
    """What `status` tells of a --respawn daemon."""

    supervisor_pid: int | None  # the live supervisor; else the pidfile's (dead) one
    restarts: int
    last_exit: dict[str, Any] | None
    program_pid: int | None  # the program, if it runs


class Report(NamedTuple):
    name: str | None
    state: str
    pid: int | None
    pidfile: str
    command: list[str]
    started_at: str | None
    stdout: str | None
    stderr: str | None
    stale: bool = False
    error: str | None = None  # why the state is unknown
    supervision: Supervision | None = None
    user: str | None = None  # as given to --user / --group
    group: str | None = None
    nice: int | None = None
    left_behind: list[int] = []  # dead, but processes it started still run (never changed in place)
    foreign: bool = False  # the pidfile names a PID daemonctl did not write there
    options: dict[str, Any] | None = None  # every recorded start option, as the record holds it
    cgroup: str | None = None  # the daemon's cgroup while it has one; None: none (see `contained`)
    usage: Usage | None = None  # what it uses, while something of it runs
    contained: bool | None = None  # in a cgroup (True), stopped by its process group (False); None: not running

    @property
    def exit_status(self) -> ExitStatus:
        return EXIT_BY_STATE.get(self.state, ExitStatus.PRIVILEGE)

    def to_json(self) -> dict[str, Any]:
        sup = self.supervision
        data: dict[str, Any] = {
            "name": self.name,
            "state": self.state,
            "pid": sup.program_pid if sup else (self.pid if self.state == RUNNING else None),
            "pidfile": self.pidfile,
            "command": self.command,
            "started_at": self.started_at,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "user": self.user,
            "group": self.group,
            "nice": self.nice,
            "options": self.options,
        }
        if self.state == DEAD and sup is None:
            data["left_behind"] = self.left_behind
        data.update(cgroup=self.cgroup, **(self.usage or NO_FIGURES).to_json())
        if sup is not None:
            data.update(supervisor_pid=sup.supervisor_pid, restarts=sup.restarts, last_exit=sup.last_exit)
        if self.error:
            data["error"] = self.error
        return data


def report(daemon: Daemon, table: "ProcessTable | None" = None) -> Report:
    rec = daemon.record
    spec = rec.spec if rec else None
    command, started_at = (list(spec.command), rec.started_at) if rec and spec else _from_proc(daemon)
    cgroup, figures, contained = _usage(daemon, table or ProcessTable())
    return Report(
        name=daemon.name,
        state=daemon.state,
        pid=daemon.pid,
        pidfile=str(daemon.target.pidfile),
        command=command,
        started_at=started_at,
        stdout=spec.stdout if spec else None,
        stderr=spec.stderr if spec else None,
        stale=daemon.stale,
        supervision=_supervision(daemon),
        user=spec.user if spec else None,
        group=spec.group if spec else None,
        nice=spec.nice if spec else None,
        left_behind=leftovers(daemon) if daemon.state == DEAD and (rec is None or rec.supervisor is None) else [],
        foreign=daemon.foreign,
        options=recorded_options(spec) if spec else None,
        cgroup=cgroup,
        usage=figures,
        contained=contained,
    )


def recorded_options(spec: StartSpec) -> dict[str, Any]:
    """The start options `spec` was started with, by name, as the record holds them: what a tool
    that converges a daemon (the Ansible module) compares with what it is asked for.

    Only the declared options: the environment daemonctl's caller had (caller_env, kept
    mode 0600 in the record) is not one and is never shown; `env` holds only the --env values.
    """
    return {option.name: option.to_json(getattr(spec, option.name)) for option in RECORDED}


class ProcessTable:
    """The process groups of /proc, scanned once (on first need) for every report of one status."""

    def __init__(self) -> None:
        self._groups: dict[int, list[int]] | None = None

    def group(self, pgid: int) -> list[int]:
        if self._groups is None:
            from daemonctl.proc.ownership import scan

            self._groups = {}
            for st in scan():
                if not st.zombie:
                    self._groups.setdefault(st.pgid, []).append(st.pid)
        return self._groups.get(pgid, []) if pgid > 1 else []


def _usage(daemon: Daemon, table: ProcessTable) -> tuple[str | None, Usage | None, bool | None]:
    """(its cgroup, its figures, whether it is contained) while something of it runs; (None, None, None) otherwise."""
    from daemonctl.proc import usage
    from daemonctl.reconcile import cgroup

    rec = daemon.record
    placement = rec.placement if rec is not None else None
    if placement is not None and cgroup(daemon) is not None:
        # With --respawn, the program's: what its limits apply to (the supervisor is apart).
        return placement.v2, usage.of_cgroup(placement.program, placement.v1), True
    if daemon.state == RUNNING and daemon.identity is not None:
        return None, usage.of_processes(table.group(daemon.identity.pid)), False
    return None, None, None


def _from_proc(daemon: Daemon) -> tuple[list[str], str | None]:
    """A process with no record (a pidfile of another tool): its argv and start time, from /proc."""
    from daemonctl.proc.procfs import cmdline, is_alive, start_time

    ident = daemon.identity
    if ident is None:
        return [], None
    argv, started = cmdline(ident.pid), start_time(ident)
    if argv is None or not is_alive(ident):
        return [], None  # gone meanwhile, or its PID reused: what was read may be another's
    when = None if started is None else datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds")
    return argv, when


def _supervision(daemon: Daemon) -> Supervision | None:
    rec = daemon.record
    if rec is None or rec.supervisor is None:
        return None
    sup = daemon.supervisor.pid if daemon.supervisor else (daemon.pidfile_pid if daemon.state == DEAD else None)
    program = daemon.identity.pid if daemon.identity else None
    return Supervision(sup, rec.restarts, rec.last_exit, program)


def status_one(state: StateDir, name: str | None, pidfile: str | None) -> Report:
    """The report of one daemon; NotRunning when nothing at all is known of it."""
    try:
        target = resolve(state, name, pidfile)
    except UnreadableRecord as err:
        raise StatusUnknown(err.message) from None
    daemon = trusted(inspect(target))
    if target.record is None and daemon.pidfile_pid is None:
        what = name if name is not None else f"pidfile {target.pidfile}"
        if name is None:
            raise NotRunning(f"{what} is not running (no record, no pidfile)")
        raise NotRunning(f"no daemon named {name} in {state.path}; start one with daemonctl start -n {name} PROGRAM")
    return report(daemon)


def status_all(state: StateDir) -> list[Report]:
    """A report for every daemon with a record; a broken one is reported, not fatal."""
    reports = []
    table = ProcessTable()
    for name in state.names():
        try:
            reports.append(report(trusted(inspect(resolve(state, name, None))), table))
        except DaemonctlError as err:
            path = str(state.pidfile(name))
            reports.append(Report(name, UNKNOWN, None, path, [], None, None, None, error=err.message))
    return reports
