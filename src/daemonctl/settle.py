"""After the exec: watching a just-started daemon (--wait, readiness), and undoing a failed start."""

from daemonctl.errors import Failure, StartInterrupted
from daemonctl.interrupts import Interrupted, InterruptGuard
from daemonctl.proc.containment import Placement
from daemonctl.proc.procfs import Identity
from daemonctl.speedups import NamedTuple
from daemonctl.store.atomic import atomic_write, remove, write_failure
from daemonctl.store.record import Record, StartSpec
from daemonctl.store.statedir import StateDir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from daemonctl.proc.adopt import Host
    from daemonctl.progress import Progress
    from daemonctl.readiness import Check
    from daemonctl.store.runlog import RunLogs


class Launched(NamedTuple):
    program: Identity
    supervisor: Identity | None  # with --respawn
    sid: int | None = None  # the session it was started in (see ownership)
    pgid: int | None = None  # its process group, when not its own PID (a --forking daemon's)
    pool: bool = False  # the supervisor is its set's (supervise/pool.py): others' too, never ended here
    first: Identity | None = None  # --forking: the process started, when `program` is the daemon it left
    placement: Placement | None = None  # its cgroups, where it has them

    @property
    def pidfile_pid(self) -> int:
        return (self.supervisor or self.program).pid

    def record(self, name: str, spec: StartSpec) -> Record:
        rec = Record(name, spec).running(self.program, sid=self.sid, pgid=self.pgid)
        if self.placement is not None:
            rec = rec._replace(cgroup=self.placement.v2, cgroup_v1=list(self.placement.v1))
        if self.supervisor is None:
            return rec
        return rec._replace(supervisor_pid=self.supervisor.pid, supervisor_starttime=self.supervisor.starttime)


def open_readiness_checks(spec: StartSpec) -> "tuple[list[Check], dict[str, str]]":
    """Readiness checks set up before the program starts (so nothing it says is missed)."""
    if not spec.readiness:
        return [], {}
    from daemonctl.readiness import open_checks

    return open_checks(spec)


def close_checks(checks: "list[Check]") -> None:
    for check in checks:
        check.close()


class Pending(NamedTuple):
    """A start whose program runs but is still being checked (--wait, readiness)."""

    state: StateDir
    name: str
    spec: StartSpec
    launched: Launched
    previous: bytes | None  # the record before this start
    logs: "RunLogs | None"  # where this run's lines in the logs begin (when it is watched)
    interrupts: InterruptGuard
    progress: "Progress | None" = None  # told what the waits wait for
    # Our children from before the program ran (PID, start time): never taken for what it left.
    others: frozenset[tuple[int, int]] = frozenset()

    def host(self) -> "Host":
        """Where what the program left is looked for (proc/adopt): our children, only those it started."""
        from daemonctl.proc.adopt import Host

        return Host(others=self.others, since=self.first.starttime, member=in_cgroup(self.launched.placement))

    @property
    def first(self) -> Identity:
        return self.launched.first or self.launched.program


def settle(pending: Pending, checks: "list[Check]", action: str = "start", before: int | None = None) -> Launched:
    """--forking's adoption, readiness and --wait; SIGINT, SIGTERM or SIGHUP meanwhile (or before) undo the start.

    What was launched, the daemon adopted in place of the first process with --forking
    (`before`: the PID its pidfile held before the start).
    """
    try:
        if pending.spec.forking and pending.launched.supervisor is None:
            from daemonctl.forking import adopt_daemon

            pending = pending._replace(launched=adopt_daemon(pending, before))
        if checks:
            await_ready(pending, checks)
        if pending.spec.wait > 0:
            watch_or_undo(pending)
        pending.interrupts.check()
    except Interrupted as interrupt:
        undo(pending)  # further interrupts are held back until it is done
        raise interrupted(action, pending.name, interrupt.signum) from None
    return pending.launched


def interrupted(action: str, name: str, signum: int) -> StartInterrupted:
    from daemonctl.signals import signal_name

    return StartInterrupted(
        f"{action} of {name} interrupted by {signal_name(signum)}: stopped what it started; {name} is not running", signum
    )


def await_ready(pending: Pending, checks: "list[Check]") -> None:
    from daemonctl.readiness import NotReady, ProcessWatch, wait_ready

    launched = pending.launched
    watch = ProcessWatch(launched.program, launched.supervisor, checks)
    try:
        with pending.interrupts.raising():
            wait_ready(checks, pending.spec.ready_timeout, watch, progress=pending.progress)
    except NotReady as err:
        raise Failure(f"{pending.name} {err}", log_tail=undo(pending)) from None
    finally:
        watch.close()


def watch_or_undo(pending: Pending) -> None:
    from daemonctl.proc.subreaper import describe, watch

    with pending.interrupts.raising():
        status = watch(pending.launched.program.pid, pending.spec.wait, pending.progress)
    if status is None:
        return
    hint = ""
    if status == 0 and not pending.spec.forking and pending.launched.supervisor is None:
        from daemonctl.proc.adopt import left_behind

        left = [a.identity.pid for a in left_behind(pending.host())]
        if left:
            hint = (f", leaving pid {' '.join(map(str, left))} running (stopped now): a program that forks "
                    "into the background is started with --forking")
    lines = undo(pending)
    raise Failure(f"{pending.name} {describe(status)} within {pending.spec.wait:g}s of starting{hint}", log_tail=lines)


def undo(pending: Pending) -> list[str]:
    """Stop what this start started, put pidfile and record back; the last lines this run logged."""
    stop_launched(pending.launched, pending.progress, pending.spec.log_writer)
    if pending.launched.supervisor is None and subreaped(pending.spec):
        from daemonctl.forking import stop_left

        # What the program forked and orphaned was handed to us: a daemon it forked (with
        # --forking, or one that daemonized itself under --wait or readiness), anything else.
        stop_left(pending.progress, pending.host())
    if pending.spec.log_writer:
        from daemonctl.store.writerlock import await_drained

        await_drained(pending.state.writer_lock(pending.name))  # the last lines shown are in the log
    undo_commit(pending.state, pending.name, pending.spec, pending.previous)
    return pending.logs.last_lines(10) if pending.logs is not None else []


def in_cgroup(placement: Placement | None) -> "Callable[[int], bool] | None":
    """Membership of the program's cgroup, proof that a process is one it started (see proc/adopt)."""
    if placement is None:
        return None
    from daemonctl.proc.cgroupfs import member_of

    path = placement.program
    return lambda pid: member_of(pid, path)


def subreaped(spec: StartSpec) -> bool:
    """Whether `start` is the child subreaper of the program it starts (it waits on it)."""
    return spec.wait > 0 or spec.readiness or (spec.forking and not spec.respawn)


def stop_launched(launched: Launched, progress: "Progress | None", writes_logs: bool = False) -> None:
    """Stop what a start launched: the supervisor first, so that nothing is restarted, then the program."""
    from daemonctl.supervise.client import end_supervisor

    if not launched.pool:
        end_supervisor(launched.supervisor, writes_logs)
    if launched.placement is None or not _stop_cgroup(launched.placement, progress):
        stop_groups([(launched.program, launched.pgid, launched.sid)], progress)


def undo_commit(state: StateDir, name: str, spec: StartSpec, previous: bytes | None) -> None:
    """Put back the pidfile and record as they were before this start."""
    from daemonctl.reconcile import pidfile_rights
    from daemonctl.store.record import programs_own_pidfile

    if not programs_own_pidfile(spec):
        remove(spec.pidfile, pidfile_rights(spec))
    if previous is None:
        remove(state.record(name))
        return
    try:
        atomic_write(state.record(name), previous, 0o600)
    except OSError as err:
        raise write_failure(err, "record", state.record(name)) from None


def _stop_cgroup(placement: Placement, progress: "Progress | None") -> bool:
    """Leave nothing of a failed start behind: everything in its cgroup, then the cgroups; False if it is not one."""
    from daemonctl.proc.cgroupstop import members_of
    from daemonctl.proc.containment import remove
    from daemonctl.schedule import parse_schedule, run

    members = members_of(placement.v2)
    if members is None:
        return False
    run(parse_schedule("TERM/5/KILL/5").told(progress), members.send, members.wait_gone)
    remove(placement)
    return True


def stop_groups(leaders: "list[tuple[Identity, int | None, int | None]]", progress: "Progress | None") -> None:
    """Leave nothing of a failed start behind: each (process, its group or None for its own PID, its
    session) with its group (proven by the live process itself, or by the session, see ownership)."""
    from contextlib import ExitStack

    from daemonctl.proc.groupstop import Groups, ProcessGroup
    from daemonctl.proc.ownership import GroupProof
    from daemonctl.schedule import parse_schedule, run

    if not leaders:
        return
    with ExitStack() as stack:
        groups = Groups([
            stack.enter_context(ProcessGroup(p, GroupProof(p.pid if pgid is None else pgid, sid, p.starttime)))
            for p, pgid, sid in leaders
        ])
        # TERM, and KILL what does not listen.
        run(parse_schedule("TERM/5/KILL/5").told(progress), groups.send, groups.wait_gone)
