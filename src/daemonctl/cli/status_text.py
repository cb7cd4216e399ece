"""status in words: one line per daemon, as `status NAME` prints it (the table is cli/table.py)."""

from datetime import UTC, datetime
from typing import Any

from daemonctl.states import DEAD, EXITED, FAILED, NOT_RUNNING, RESTARTING, RUNNING, UNKNOWN
from daemonctl.status import Report, Supervision


def uptime(started_at: str | None, now: datetime | None = None) -> str:
    if not started_at:
        return "-"
    try:
        started = datetime.fromisoformat(started_at)
    except ValueError:
        return "-"
    return duration(((now or datetime.now(UTC)) - started).total_seconds())


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


def describe_exit(last_exit: dict[str, Any] | None) -> str:
    if not last_exit:
        return "none yet"
    if last_exit.get("oom"):
        how = "killed for using too much memory (OOM)"
    elif last_exit.get("signal") is not None:
        from daemonctl.signals import signal_name

        how = f"killed by {signal_name(last_exit['signal'])}"
    else:
        how = f"exit status {last_exit.get('code')}"
    return f"{how} at {last_exit.get('at', '?')}"


NO_CGROUP = "no cgroup: stop reaches its process group and the descendants /proc shows"


def describe_usage(r: Report) -> str:
    """What it uses and how it is contained, as a sentence ('' when nothing of it runs)."""
    if r.contained is None:
        return ""
    u = r.usage
    parts = []
    if u is not None and u.tasks is not None:
        parts.append(f"{u.tasks} process{'es' if u.tasks != 1 else ''}")
    if u is not None and u.memory is not None:
        parts.append(f"{human_bytes(u.memory)} memory")
    if u is not None and u.cpu_seconds is not None:
        parts.append(f"{u.cpu_seconds:.2f}s CPU")
    where = f"in cgroup {r.cgroup}" if r.contained else NO_CGROUP
    return f"; {', '.join(parts)}; {where}" if parts else f"; {where}"


def human_bytes(size: int) -> str:
    for unit, scale in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f}{unit}"
    return f"{size}B"


def describe_supervised(r: Report, sup: Supervision) -> str:
    label = r.name or r.pidfile
    tail = f"{sup.restarts} restart{'s' if sup.restarts != 1 else ''}, last exit: {describe_exit(sup.last_exit)}"
    if r.state == RUNNING:
        return (f"{label} is running (pid {r.pid}, up {uptime(r.started_at)}, supervisor pid {sup.supervisor_pid}; "
                f"{tail}{describe_usage(r)})")
    if r.state == RESTARTING:
        return f"{label} is restarting (supervisor pid {sup.supervisor_pid}; {tail}{describe_usage(r)})"
    if r.state == DEAD:
        prog = f"its program still runs as pid {sup.program_pid}" if sup.program_pid else "its program is gone too"
        return f"{label} is dead: its supervisor (pid {sup.supervisor_pid}) is gone and {prog} ({tail})"
    if r.state == EXITED:
        return f"{label} exited and was not restarted ({tail})"
    if r.state == FAILED:
        return f"{label} failed: gave up restarting it ({tail})"
    return f"{label} is stopped ({tail})"


def describe(r: Report) -> str:
    """One human line for a report."""
    label = r.name or r.pidfile
    if r.supervision is not None and r.state != UNKNOWN:
        return describe_supervised(r, r.supervision)
    if r.state == RUNNING:
        return f"{label} is running (pid {r.pid}, up {uptime(r.started_at)}{describe_usage(r)})"
    if r.state == DEAD:
        again = f"; start it again with daemonctl start -n {r.name}" if r.name else ""
        if r.left_behind:
            return f"{label} is dead: {_left_behind(r)}"
        if r.foreign:
            return (f"{label} is dead: pidfile {r.pidfile} names pid {r.pid}, which daemonctl did not write there; "
                    f"{FORKING_HINT}")
        why = "now another process's" if r.stale else "gone"
        return f"{label} is dead: pidfile {r.pidfile} names pid {r.pid}, which is {why}{again}"
    if r.state == NOT_RUNNING:
        again = f"; start it with daemonctl start -n {r.name}" if r.name else ""
        return f"{label} is not running{again}"
    return f"{label}: state unknown ({r.error})"


def _left_behind(r: Report) -> str:
    pids = " ".join(map(str, r.left_behind[:10])) + (" ..." if len(r.left_behind) > 10 else "")
    stop = f"; daemonctl stop {r.name} stops them" if r.name else ""
    return f"its program exited, but processes it started still run (pid {pids}); {FORKING_HINT}{stop}"


# For a program that daemonized itself while daemonctl took it for the daemon.
FORKING_HINT = "a program that forks into the background is started with --forking (and --pid-from its pidfile)"
