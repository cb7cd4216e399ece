"""What is known of one daemon: its record, its pidfile and its live process, reconciled."""

import os

from daemonctl.errors import BadRecord, DaemonctlError, PrivilegeError, RecordNotPermitted, StatusUnknown, UnreadableRecord
from daemonctl.proc.procfs import PROC, Identity, is_alive, pid_alive
from daemonctl.speedups import NamedTuple
from daemonctl.states import ACTIVE, DEAD, EXITED, FAILED, NOT_RUNNING, RESTARTING, RUNNING
from daemonctl.store import pidfile as pidfile_mod
from daemonctl.store import record as record_mod
from daemonctl.store.record import Record, StartSpec
from daemonctl.store.statedir import StateDir, validate_name
from daemonctl.store.trust import Untrusted, check_pidfile, process_uid

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daemonctl.proc.cgroupstop import CgroupMembers
    from daemonctl.proc.ownership import GroupProof
    from daemonctl.store.safeopen import Rights



class Target(NamedTuple):
    """Which daemon a command is about: a NAME, a pidfile, or both."""

    name: str | None
    pidfile: str
    record: Record | None
    record_path: str | None = None  # where the record is (or would be) kept


class Daemon(NamedTuple):
    target: Target
    state: str  # running, dead or stopped
    pid: int | None  # the live process, or the pidfile's dead PID
    pidfile_pid: int | None  # what the pidfile holds; None without a pidfile
    identity: Identity | None  # of the live process
    stale: bool = False  # the pidfile's PID, which daemonctl wrote there, now belongs to another process
    foreign: bool = False  # the pidfile names a PID daemonctl did not write there (the program rewrote it?)
    supervisor: Identity | None = None  # --respawn: the live supervisor
    pidfile_stat: os.stat_result | None = None  # of the pidfile as it was read
    pidfile_note: str | None = None  # why the pidfile was not read (a symlink, a FIFO), if it was not

    @property
    def name(self) -> str | None:
        return self.target.name

    @property
    def active(self) -> bool:
        """Something of it still runs: the program, or a supervisor that will restart it."""
        return self.state in ACTIVE or (self.state == DEAD and self.identity is not None)

    @property
    def record(self) -> Record | None:
        return self.target.record


def load_record(state: StateDir, name: str) -> Record | None:
    try:
        return record_mod.load(state.record(name), name)
    except record_mod.CorruptRecord as err:
        raise _record_error(state, name, err) from None


def _record_error(state: StateDir, name: str, err: record_mod.CorruptRecord) -> UnreadableRecord:
    message = f"the record of {name} ({state.record(name)}) {err}"
    if isinstance(err.__cause__, PermissionError):
        return RecordNotPermitted(message)  # exit 4: not the caller's to read, rather than broken
    if isinstance(err, record_mod.RecordNotRead):
        return UnreadableRecord(message)
    return BadRecord(f"{message}; daemonctl remove {name} forgets it")


def resolve(state: StateDir, name: str | None, pidfile: str | None) -> Target:
    """The daemon named by NAME, else by -p PIDFILE."""
    if name is not None:
        validate_name(name)
        return named(state, name)
    assert pidfile is not None, "the CLI gives NAME or -p PIDFILE"
    path = os.path.abspath(pidfile)
    owner = find_by_pidfile(state, path)
    if owner is None:
        return Target(None, path, None)
    return Target(owner.name, path, owner, state.record(owner.name))


def named(state: StateDir, name: str, pidfile: str | None = None) -> Target:
    """The target of NAME as its record (read now) says; `pidfile` overrides the record's."""
    rec = load_record(state, name)
    path = pidfile or (rec.spec.pidfile if rec else state.pidfile(name))
    return Target(name, path, rec, state.record(name))


def find_by_pidfile(state: StateDir, path: str) -> Record | None:
    """The record whose pidfile is `path`: NAME.pid's record first, then any other."""
    base = os.path.basename(path)
    stem = base[:-4] if base.endswith(".pid") else None
    candidates = [stem] if stem else []
    candidates += [n for n in state.names() if n != stem]
    for name in candidates:
        try:
            rec = record_mod.load(state.record(name), name)
        except record_mod.CorruptRecord as err:
            # It may be this pidfile's record: acting without its identity check is not an option.
            raise _record_error(state, name, err) from None
        if rec is not None and os.path.normpath(rec.spec.pidfile) == path:
            return rec
    return None


def pidfile_rights(spec: StartSpec | None) -> "Rights | None":
    """Whose rights a daemon's pidfile is read, written and removed with (see safeopen).

    As root, its user's where that user can change what the path names; None: the
    caller's own (also when the user is gone from the password database).
    """
    if spec is None or os.geteuid() != 0 or (spec.user is None and spec.group is None):
        return None
    from daemonctl.proc.privileges import credentials_of
    from daemonctl.store.safeopen import Rights

    try:
        return Rights.of(credentials_of(spec.user, spec.group))
    except DaemonctlError:
        return None


def inspect(target: Target, *, proc: str = PROC) -> Daemon:
    """Reconcile record, pidfile and /proc; raises StatusUnknown for a bad pidfile, PrivilegeError for one not ours to read.

    `proc`: where /proc is (tests give a tree of their own).
    """
    try:
        contents = pidfile_mod.read(target.pidfile, pidfile_rights(target.record.spec if target.record else None))
    except pidfile_mod.UnsafePidfile as err:
        if target.record is None:
            raise Untrusted(f"pidfile {target.pidfile} {err}") from None
        # A symlink or FIFO at the pidfile (its user may plant one) is never read, but the
        # record names the daemon by its identity: act on that, and leave the pidfile alone.
        note = f"pidfile {target.pidfile} {err.args[0].partition(';')[0]}; left it alone"
        return _reconcile(target, None, proc)._replace(pidfile_note=note)
    except pidfile_mod.PidfileNotPermitted as err:
        if target.record is not None and os.geteuid() == 0:
            # Root is refused only when reading with the daemon user's rights: that user made
            # the path name something it may not read. The record names the daemon: as above.
            note = f"pidfile {target.pidfile} is not readable by the daemon's user; left it alone"
            return _reconcile(target, None, proc)._replace(pidfile_note=note)
        raise PrivilegeError(f"pidfile {target.pidfile} {err}") from None
    except pidfile_mod.InvalidPidfile as err:
        raise StatusUnknown(f"pidfile {target.pidfile} {err}") from None
    return _reconcile(target, contents.pid, proc)._replace(pidfile_stat=contents.stat)


def _reconcile(target: Target, pid_in_file: int | None, proc: str = PROC) -> Daemon:
    rec = target.record
    if rec is not None and rec.supervisor is not None:
        return _inspect_supervised(target, rec, pid_in_file, proc)
    ident = rec.identity if rec is not None and rec.state == RUNNING else None
    if ident is not None and is_alive(ident, proc):
        # The record's process lives: it is the daemon, whatever the pidfile says.
        return Daemon(target, RUNNING, ident.pid, pid_in_file, ident)
    if pid_in_file is None:
        return Daemon(target, NOT_RUNNING, None, None, None)
    if rec is None:
        # A pidfile written by another tool: all we can go by is the PID.
        if pid_alive(pid_in_file, proc):
            return Daemon(target, RUNNING, pid_in_file, pid_in_file, Identity.of(pid_in_file, proc))
        return Daemon(target, DEAD, pid_in_file, pid_in_file, None)
    if not wrote_pidfile(rec, target.pidfile, pid_in_file):
        # Not as daemonctl wrote it (the program's own, or rewritten since): never called stale.
        # After a stop it tells nothing of the daemon; before, the daemonctl's process is gone.
        state = DEAD if rec.state in ACTIVE else NOT_RUNNING
        return Daemon(target, state, pid_in_file, pid_in_file, None, foreign=True)
    stale = pid_alive(pid_in_file, proc)  # alive, but not the process daemonctl started
    return Daemon(target, DEAD, pid_in_file, pid_in_file, None, stale=stale)


def programs_own(rec: Record | None, path: str) -> bool:
    """The pidfile at `path` is the one rec's --forking program writes itself (--pid-from)."""
    return rec is not None and rec.spec.pid_from is not None and os.path.normpath(rec.spec.pid_from) == os.path.normpath(path)


def wrote_pidfile(rec: Record | None, path: str, pid: int | None) -> bool:
    """Whether the pidfile at `path`, naming `pid`, is as daemonctl wrote it, and so daemonctl's to remove.

    Never the program's own (--pid-from); else only while it names the PID daemonctl
    put there (the supervisor's with --respawn). Without a record (another tool's
    pidfile, given with -p), what it names is taken as it is.
    """
    if rec is None:
        return True
    if programs_own(rec, path):
        return False
    return pid == (rec.supervisor_pid if rec.supervisor_pid is not None else rec.pid)


def _inspect_supervised(target: Target, rec: Record, pid_in_file: int | None, proc: str = PROC) -> Daemon:
    """With --respawn the pidfile names the supervisor, the record the program."""
    prog = rec.identity if rec.identity is not None and is_alive(rec.identity, proc) else None
    sup = rec.supervisor
    if rec.state in ACTIVE and sup is not None and is_alive(sup, proc):
        if prog is not None:
            return Daemon(target, RUNNING, prog.pid, pid_in_file, prog, supervisor=sup)
        return Daemon(target, RESTARTING, None, pid_in_file, None, supervisor=sup)
    if rec.state in ACTIVE:
        # The supervisor was killed: dead, though its program may still run.
        ours = wrote_pidfile(rec, target.pidfile, pid_in_file)
        stale = ours and pid_in_file is not None and pid_alive(pid_in_file, proc)  # the supervisor's PID, reused
        pid = prog.pid if prog is not None else pid_in_file
        return Daemon(target, DEAD, pid, pid_in_file, prog, stale=stale)
    return Daemon(target, rec.state if rec.state in (EXITED, FAILED) else NOT_RUNNING, None, pid_in_file, None)


def proof(daemon: Daemon) -> "GroupProof | None":
    """What shows a process to be this daemon's program or its leftovers; None: signal no group."""
    from daemonctl.proc.ownership import proof_for

    rec = daemon.record
    if rec is None or rec.spec.user is None or os.geteuid() != 0:
        return proof_for(rec, None)
    uid = _daemon_uid(daemon)
    if uid is None:
        return None  # its user is gone: nothing proves whose the processes are
    return proof_for(rec, uid if uid != 0 else None)


def cgroup(daemon: Daemon) -> "CgroupMembers | None":
    """The daemon's cgroup, when its record proves it: a record that says it runs, of this boot,
    naming the cgroup daemonctl makes for it, which is a cgroup of a v2 mount. None: signal nothing through it."""
    rec = daemon.record
    if rec is None or rec.cgroup is None or rec.state not in ACTIVE or daemon.target.record_path is None:
        return None
    from daemonctl.proc.procfs import boot_id

    if rec.boot_id != boot_id():
        return None
    from daemonctl.proc.cgroupstop import members_of
    from daemonctl.proc.containment import owned

    if not owned(rec.cgroup, os.path.dirname(daemon.target.record_path), rec.name):
        return None
    return members_of(rec.cgroup)


def leftovers(daemon: Daemon) -> list[int]:
    """The live leftovers of a daemon whose program is gone: what is in its cgroup, else its provable group members."""
    if daemon.identity is not None or daemon.record is None:
        return []  # without a record, nothing proves a process to be the daemon's (see ownership)
    in_cgroup = cgroup(daemon)
    if in_cgroup is not None and daemon.record is not None:
        rec = daemon.record
        return in_cgroup.with_since(rec.supervisor_starttime if rec.supervisor is not None else rec.starttime).members()
    p = proof(daemon)
    if p is None:
        return []
    from daemonctl.proc.ownership import members

    return members(p)


def trusted(daemon: Daemon) -> Daemon:
    """`daemon`, unless (as root) its pidfile is one someone else could have written."""
    check_pidfile(daemon.target.pidfile, daemon.pidfile_stat, _daemon_uid(daemon))
    return daemon


def _daemon_uid(daemon: Daemon) -> int | None:
    if daemon.record is None:
        return process_uid(daemon.pidfile_pid) if daemon.pidfile_pid is not None else None
    from daemonctl.proc.privileges import credentials_of

    try:
        creds = credentials_of(daemon.record.spec.user, daemon.record.spec.group)
    except DaemonctlError:
        # The user is gone from the password database: the recorded process, verified by
        # its start time and boot id, still runs as its uid; else trust no one but root.
        return process_uid(daemon.identity.pid) if daemon.identity is not None else None
    return creds.uid if creds is not None else os.geteuid()
