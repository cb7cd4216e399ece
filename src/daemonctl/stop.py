"""stop, signal and remove: acting on a daemon that was started, after checking it is ours."""

# The C module: signal.py builds its IntEnum classes at import, a few milliseconds per run.
import os
import signal
from contextlib import ExitStack

from daemonctl.errors import BadRecord, Failure, PrivilegeError, SignalNotRunning, StatusUnknown, UsageError
from daemonctl.faults import crash_point
from daemonctl.proc.groupstop import Groups, ProcessGroup
from daemonctl.proc.ownership import GroupProof
from daemonctl.proc.pidfd import open_verified
from daemonctl.proc.procfs import Identity, is_alive
from daemonctl.reconcile import (
    Daemon,
    Target,
    cgroup,
    inspect,
    leftovers,
    named,
    pidfile_rights,
    programs_own,
    proof,
    resolve,
    trusted,
    wrote_pidfile,
)
from daemonctl.schedule import Schedule, run
from daemonctl.speedups import NamedTuple
from daemonctl.states import ACTIVE, DEAD, HALTED, NO_SUCH_DAEMON, RESTARTING, RUNNING, STALE, WAS_NOT_RUNNING
from daemonctl.store import pidfile as pidfile_mod
from daemonctl.store import record as record_mod
from daemonctl.store.atomic import remove, sweep_temps, write_failure
from daemonctl.store.lock import locked, unlink_if_free
from daemonctl.store.statedir import StateDir, validate_name

CGROUP_EMPTY_TIMEOUT = 5.0  # for the cgroups to empty before they are removed (see _remove_cgroups)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daemonctl.proc.cgroupstop import CgroupMembers


class StopResult(NamedTuple):
    label: str  # the daemon's name, or its pidfile when it has no record
    pid: int | None
    outcome: str  # HALTED, WAS_NOT_RUNNING, STALE or NO_SUCH_DAEMON (states)
    note: str | None = None  # a pidfile that was not read (a symlink) and was left alone
    supervisor_pid: int | None = None  # --respawn: the supervisor that was ended
    left_behind: list[int] = []  # the program was gone, but these processes it started were stopped


def stop(state: StateDir, name: str | None, pidfile: str | None, schedule: Schedule) -> StopResult:
    target = resolve(state, name, pidfile)
    if target.name is None:
        return stop_locked(target, schedule)
    if target.record is None and not os.path.lexists(target.pidfile):
        # Nothing to act on, and so no lock to take: a caller who may not write the state
        # directory is told the name is unknown (exit 0), not refused a lock file it cannot create.
        return StopResult(target.name, None, NO_SUCH_DAEMON)
    with locked(state.lock(target.name)):
        # Read the record again: another command may have changed it while we waited.
        return stop_locked(named(state, target.name, target.pidfile if pidfile else None), schedule)


def stop_locked(target: Target, schedule: Schedule) -> StopResult:
    crash_point("stop:locked")
    try:
        daemon = trusted(inspect(target))
    except StatusUnknown as err:
        raise Failure(str(err)) from None
    label = target.name or str(target.pidfile)
    if target.name is not None and target.record is None and daemon.pidfile_pid is None:
        return StopResult(label, None, NO_SUCH_DAEMON)
    supervisor_pid = daemon.supervisor.pid if daemon.supervisor is not None else None
    left: list[int] = []
    members = cgroup(daemon)
    if daemon.record is not None and daemon.record.supervisor is not None:
        outcome, daemon = _stop_supervised(daemon, schedule, label, members)
    elif members is not None:
        # Everything in its cgroup: the program, and whatever it started wherever that went.
        if daemon.state != RUNNING:
            members = members.with_since(daemon.record.starttime if daemon.record else None)
            left = members.members()  # what a dead program left running
        if members.members():
            _run_group(schedule, members, label, daemon.pid)
        outcome = HALTED if daemon.state == RUNNING else (STALE if daemon.stale else WAS_NOT_RUNNING)
    elif daemon.state == RUNNING:
        _run(schedule, ProcessGroup(daemon.identity, proof(daemon)), label, daemon.pid)
        outcome = HALTED
    else:
        # The program is gone: its group's provable leftovers (none for a record that
        # does not say it runs, see ownership) are stopped all the same.
        left = _stop_leftovers(daemon, schedule, label)
        outcome = STALE if daemon.stale else WAS_NOT_RUNNING
    crash_point("stop:gone")
    _await_logs(daemon)
    _remove_cgroups(daemon)
    _forget_process(daemon)
    return StopResult(label, daemon.pid, outcome, daemon.pidfile_note or _foreign_note(daemon), supervisor_pid, left)


def _foreign_note(daemon: Daemon) -> str | None:
    if not daemon.foreign or daemon.state != DEAD or daemon.pidfile_pid is None:
        return None
    return (f"pidfile {daemon.target.pidfile} names pid {daemon.pidfile_pid}, which daemonctl did not write there "
            "(the program's own?); left it alone")


def _await_logs(daemon: Daemon) -> None:
    """With a log writer (or a supervisor that writes the logs): return once the program's last lines are in its log."""
    rec, path = daemon.record, daemon.target.record_path
    if rec is None or path is None or not rec.spec.log_writer:
        return
    from daemonctl.store.writerlock import await_drained

    await_drained(StateDir(os.path.dirname(path)).writer_lock(rec.name))
def _remove_cgroups(daemon: Daemon) -> None:
    """The daemon's cgroups, now empty, go (whatever its record's state: an empty directory proves nothing, and is ours)."""
    rec = daemon.record
    placement = rec.placement if rec is not None else None
    if rec is None or placement is None or daemon.target.record_path is None:
        return
    from daemonctl.proc.cgroupstop import members_of
    from daemonctl.proc.containment import owned, remove

    state_dir = os.path.dirname(daemon.target.record_path)
    if not all(owned(path, state_dir, rec.name) for path in (placement.v2, *placement.v1)):
        return
    members = members_of(placement.v2)
    if members is not None:
        # A supervisor that wrote the logs exits on its own once they are drained: a moment, at most.
        members.wait_gone(CGROUP_EMPTY_TIMEOUT)
    remove(placement)


def _stop_leftovers(daemon: Daemon, schedule: Schedule, label: str) -> list[int]:
    """Stop what a dead daemon's program left running (provably its own); their PIDs."""
    with ProcessGroup(None, proof(daemon)) as group:
        left = group.members()
        if left:
            _run_group(schedule, group, label, None)
        return left


def _stop_supervised(daemon: Daemon, schedule: Schedule, label: str, members: "CgroupMembers | None") -> tuple[str, Daemon]:
    """--respawn: end the supervisor first, so nothing restarts, then stop the program's group (its cgroup, where it has one)."""
    from daemonctl.supervise.client import end_supervisor

    rec = daemon.record
    assert rec is not None
    if rec.state not in ACTIVE:
        return WAS_NOT_RUNNING, daemon  # exited, failed or stopped: nothing of it is ours to signal
    if rec.spec.instance is not None and daemon.supervisor is not None:
        return _release(daemon, schedule, label, members)
    programs = end_supervisor(rec.supervisor, writes_logs=rec.spec.log_writer)
    # The supervisor records its program before letting it exec: now that it is gone,
    # the record names every program that may run (a start killed meanwhile included).
    daemon = _reread(daemon, rec)
    if daemon.identity is not None and daemon.identity not in programs:
        programs.append(daemon.identity)
    program_part = _program_part(members, rec)
    if program_part is not None:
        if program_part.members():
            _run_group(schedule, program_part, label, daemon.pid)
        programs = [p for p in programs if is_alive(p)]  # none, unless one ran outside the cgroup
    if programs:
        _run_all(schedule, [ProcessGroup(p, _proof_of(daemon, p)) for p in programs], label, daemon.pid)
    elif program_part is None:
        _stop_leftovers(daemon, schedule, label)
    if daemon.state in ACTIVE or daemon.identity is not None:
        return HALTED, daemon
    return (STALE if daemon.stale else WAS_NOT_RUNNING), daemon


def _program_part(members: "CgroupMembers | None", rec: record_mod.Record) -> "CgroupMembers | None":
    """The `program` cgroup of a supervised daemon's cgroup (the supervisor, detached to write the
    last lines, is left to end on its own), limited to what the supervisor started."""
    placement = rec.placement
    if members is None or placement is None:
        return None
    from daemonctl.proc.cgroupstop import members_of

    program = members_of(placement.program)
    return None if program is None else program.with_since(rec.supervisor_starttime)


def _release(daemon: Daemon, schedule: Schedule, label: str, members: "CgroupMembers | None") -> tuple[str, Daemon]:
    """An instance under its set's supervisor, which supervises others too: release the instance
    (its record stops naming the supervisor, which then lets it end unrestarted), then stop its
    program. The supervisor writes the record only under the lock this stop holds."""
    rec = daemon.record
    path = daemon.target.record_path
    assert rec is not None and path is not None
    released = rec._replace(supervisor_pid=None, supervisor_starttime=None)
    try:
        record_mod.save(path, released)
    except OSError as err:
        raise write_failure(err, "record", path) from None
    daemon = daemon._replace(target=daemon.target._replace(record=released), supervisor=None)
    program_part = _program_part(members, rec)  # its `program` cgroup, where it has one
    if program_part is not None and program_part.members():
        _run_group(schedule, program_part, label, daemon.pid)
    if daemon.identity is not None and is_alive(daemon.identity):
        _run(schedule, ProcessGroup(daemon.identity, proof(daemon)), label, daemon.pid)  # ran outside it
    elif program_part is None:
        _stop_leftovers(daemon, schedule, label)
    # The pidfile names the supervisor, which the released record no longer does.
    if daemon.pidfile_pid is not None and wrote_pidfile(rec, daemon.target.pidfile, daemon.pidfile_pid):
        rights = pidfile_rights(rec.spec)
        try:
            if pidfile_mod.read(daemon.target.pidfile, rights).pid == daemon.pidfile_pid:
                remove(daemon.target.pidfile, rights)
        except pidfile_mod.InvalidPidfile:
            pass
    return HALTED, daemon._replace(pidfile_pid=None)


def _proof_of(daemon: Daemon, program: Identity) -> GroupProof | None:
    """The proof for one of the supervisor's programs (the record's, or one it could not record)."""
    p = proof(daemon)
    # Its session comes from the live program itself, or else from the record, as its group
    # does for the recorded program (a --forking daemon's need not be its own PID).
    pgid = p.pgid if p is not None and daemon.identity == program else program.pid
    return GroupProof(pgid, p.sid if p else None, program.starttime, p.uid if p else None)


def _reread(daemon: Daemon, known: record_mod.Record) -> Daemon:
    """`daemon` with its record as it is on disk now, if it changed since `known` (the program's identity checked anew)."""
    path = daemon.target.record_path
    if path is None:
        return daemon
    try:
        rec = record_mod.load(path)
    except (record_mod.CorruptRecord, OSError):
        return daemon
    if rec is None or rec.identity == known.identity:
        return daemon
    ident = rec.identity if rec.identity is not None and is_alive(rec.identity) else None
    return daemon._replace(target=daemon.target._replace(record=rec), identity=ident, pid=ident.pid if ident else daemon.pid)


def _run(schedule: Schedule, group: ProcessGroup, label: str, pid: int | None) -> None:
    with group:
        _run_group(schedule, group, label, pid)


def _run_all(schedule: Schedule, groups: list[ProcessGroup], label: str, pid: int | None) -> None:
    """One schedule for several groups at once (a supervisor's programs)."""
    with ExitStack() as stack:
        for group in groups:
            stack.enter_context(group)
        _run_group(schedule, Groups(groups), label, pid)


def _run_group(schedule: Schedule, group: "ProcessGroup | Groups | CgroupMembers", label: str, pid: int | None) -> None:
    def send(sig: int) -> None:
        group.send(sig)
        crash_point("stop:sent")

    if not run(schedule, send, group.wait_gone):
        raise Failure(f"{label} is still running after the stop schedule (pid {pid}); "
                      "give it a longer one, or end with KILL: --schedule TERM/30/KILL/5")


def _forget_process(daemon: Daemon) -> None:
    """Remove the pidfile (only if daemonctl wrote it, and it still names the PID we saw) and mark the record stopped."""
    if daemon.pidfile_pid is not None and wrote_pidfile(daemon.record, daemon.target.pidfile, daemon.pidfile_pid):
        rights = pidfile_rights(daemon.record.spec if daemon.record else None)
        try:
            if pidfile_mod.read(daemon.target.pidfile, rights).pid == daemon.pidfile_pid:
                remove(daemon.target.pidfile, rights)
        except pidfile_mod.InvalidPidfile:
            pass
    crash_point("stop:unlinked")
    rec, path = daemon.record, daemon.target.record_path
    if rec is not None and path is not None and rec.state in ACTIVE:
        try:
            record_mod.save(path, rec.stopped())
        except OSError as err:
            # The process is gone and its pidfile too, so status already finds it stopped.
            raise write_failure(err, "record", path) from None


class SignalResult(NamedTuple):
    label: str  # the daemon's name, or its pidfile when it has no record
    pid: int
    signal: int


def send_signal(state: StateDir, name: str | None, pidfile: str | None, sig: int) -> SignalResult:
    """Send `sig` to the daemon itself (NAME, or the PID in PIDFILE), after checking its identity."""
    target = resolve(state, name, pidfile)
    label = target.name or str(target.pidfile)
    try:
        daemon = trusted(inspect(target))
    except StatusUnknown as err:
        raise Failure(str(err)) from None
    if target.record is None and daemon.pidfile_pid is None:
        if name is None:
            raise SignalNotRunning(f"nothing to signal: there is no pidfile {label}")
        raise SignalNotRunning(f"no daemon named {name} in {state.path}; list them with daemonctl status")
    again = f"; start it with daemonctl start -n {target.name}" if target.name else ""
    if daemon.state == RESTARTING:
        raise SignalNotRunning(f"{label} is restarting: its program is not running")
    if daemon.state != RUNNING or daemon.identity is None:
        raise SignalNotRunning(f"{label} is not running{again}")
    fd = open_verified(daemon.identity)
    if fd is None:
        raise SignalNotRunning(f"{label} is not running{again}")
    try:
        signal.pidfd_send_signal(fd, sig)
    except ProcessLookupError:
        raise SignalNotRunning(f"{label} is not running{again}") from None
    except PermissionError:
        raise PrivilegeError(f"not allowed to send {_signal_name(sig)} to {label} (pid {daemon.pid})") from None
    finally:
        os.close(fd)
    return SignalResult(label, daemon.identity.pid, sig)


class RemoveResult(NamedTuple):
    name: str
    log: str | None  # None: the record was corrupt, where its log is is not known


def forget(state: StateDir, name: str) -> RemoveResult:
    """Forget a daemon that is not running: its record and any stale pidfile; the log stays."""
    validate_name(name)
    try:
        unknown = named(state, name).record is None
    except BadRecord:
        unknown = False
    if unknown:
        # Before the lock: an unknown name needs none (nor write access to the state directory).
        raise _unknown(state, name)
    with locked(state.lock(name)):
        try:
            target = named(state, name)
        except BadRecord:
            from daemonctl import badrecord

            badrecord.forget(state, name)
            forget_locks(state, name)
            return RemoveResult(name, None)
        if target.record is None:
            forget_locks(state, name)  # removed meanwhile: the lock file this made protects nothing
            raise _unknown(state, name)
        try:
            daemon = inspect(target)
        except StatusUnknown:
            daemon = None  # garbage in the pidfile: nothing runs that we could know of
        if daemon is not None and daemon.active:
            raise Failure(f"{name} is still running (pid {daemon.pid}); stop it first with daemonctl stop {name}")
        remains = leftovers(daemon) if daemon is not None else []
        if remains:
            pids = " ".join(map(str, remains[:5])) + (" ..." if len(remains) > 5 else "")
            raise Failure(f"{name} is dead but processes it started still run (pid {pids}); "
                          f"stop them first with daemonctl stop {name}")
        if (daemon is None and not programs_own(target.record, target.pidfile)) or (
            daemon is not None and daemon.pidfile_pid is not None and not daemon.foreign
        ):
            remove(target.pidfile, pidfile_rights(target.record.spec))
        if daemon is not None:
            _remove_cgroups(daemon)  # a daemon that ended on its own, never stopped, still has them
        remove(state.record(name))
        sweep_temps(state.record(name))
        forget_locks(state, name)
        return RemoveResult(name, target.record.spec.stdout)


def forget_locks(state: StateDir, name: str) -> None:
    """Unlink NAME's lock files; called holding NAME's lock, whose waiters then lock anew (lock.acquire).
    By remove, and by a start of a new name that failed: a name nothing knows leaves nothing."""
    from daemonctl.store.writerlock import await_drained

    # A writer still writing a dead run's last lines keeps its lock file, as it keeps the log.
    await_drained(state.writer_lock(name))
    unlink_if_free(state.writer_lock(name))
    remove(state.lock(name))


def _unknown(state: StateDir, name: str) -> UsageError:
    return UsageError(f"no daemon named {name} in {state.path}; list them with daemonctl status")


def _signal_name(sig: int) -> str:
    from daemonctl.signals import signal_name

    return signal_name(sig)
