"""status: what state a daemon is in, as a report the CLI renders as a line or JSON."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .daemon import DEAD, RUNNING, STOPPED, Daemon, inspect, resolve, trusted
from .errors import DaemonctlError, ExitStatus, NotRunning
from .state import StateDir

EXIT_BY_STATE = {RUNNING: ExitStatus.OK, DEAD: ExitStatus.FAILURE, STOPPED: ExitStatus.NOT_RUNNING}


@dataclass(frozen=True)
class Report:
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
    user: str | None = None  # as given to --user / --group
    group: str | None = None
    nice: int | None = None

    @property
    def exit_status(self) -> ExitStatus:
        return EXIT_BY_STATE.get(self.state, ExitStatus.PRIVILEGE)

    def to_json(self) -> dict[str, Any]:
        data = {
            "name": self.name,
            "state": self.state,
            "pid": self.pid if self.state == RUNNING else None,
            "pidfile": self.pidfile,
            "command": self.command,
            "started_at": self.started_at,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "user": self.user,
            "group": self.group,
            "nice": self.nice,
        }
        if self.error:
            data["error"] = self.error
        return data


def report(daemon: Daemon) -> Report:
    rec = daemon.record
    spec = rec.spec if rec else None
    return Report(
        name=daemon.name,
        state=daemon.state,
        pid=daemon.pid,
        pidfile=str(daemon.target.pidfile),
        command=list(spec.command) if spec else [],
        started_at=rec.started_at if rec else None,
        stdout=spec.stdout if spec else None,
        stderr=spec.stderr if spec else None,
        stale=daemon.stale,
        user=spec.user if spec else None,
        group=spec.group if spec else None,
        nice=spec.nice if spec else None,
    )


def status_one(state: StateDir, name: str | None, pidfile: str | None) -> Report:
    """The report of one daemon; NotRunning when nothing at all is known of it."""
    target = resolve(state, name, pidfile)
    daemon = trusted(inspect(target))
    if target.record is None and daemon.pidfile_pid is None:
        what = name if name is not None else f"pidfile {target.pidfile}"
        raise NotRunning(f"{what} is not running (no record, no pidfile)" if name is None else f"no daemon named {what} in {state.path}")
    return report(daemon)


def status_all(state: StateDir) -> list[Report]:
    """A report for every daemon with a record; a broken one is reported, not fatal."""
    reports = []
    for name in state.names():
        try:
            reports.append(report(trusted(inspect(resolve(state, name, None)))))
        except DaemonctlError as err:
            path = str(state.pidfile(name))
            reports.append(Report(name, "unknown", None, path, [], None, None, None, error=err.format_message()))
    return reports


def uptime(started_at: str | None, now: datetime | None = None) -> str:
    if not started_at:
        return "-"
    try:
        started = datetime.fromisoformat(started_at)
    except ValueError:
        return "-"
    return duration(((now or datetime.now(timezone.utc)) - started).total_seconds())


def duration(seconds: float) -> str:
    """A duration in the two largest units that matter: 45s, 3m12s, 5h03m, 2d07h."""
    s = max(int(seconds), 0)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def describe(r: Report) -> str:
    """One human line for a report."""
    label = r.name or r.pidfile
    if r.state == RUNNING:
        return f"{label} is running (pid {r.pid}, up {uptime(r.started_at)})"
    if r.state == DEAD:
        why = "now another process's" if r.stale else "gone"
        return f"{label} is dead: pidfile {r.pidfile} names pid {r.pid}, which is {why}"
    if r.state == STOPPED:
        return f"{label} is stopped"
    return f"{label}: state unknown ({r.error})"


def table_line(r: Report) -> str:
    """One aligned line of the `status` listing: NAME STATE PID UPTIME COMMAND."""
    pid = str(r.pid) if r.state == RUNNING and r.pid else "-"
    up = uptime(r.started_at) if r.state == RUNNING else "-"
    command = " ".join(r.command) if r.command else (r.error or "")
    return f"{r.name or '-':<20} {r.state:<8} {pid:>7} {up:>7}  {command}"
