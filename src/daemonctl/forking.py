"""start --forking: wait for the program's first process to exit, adopt the daemon it left, record that one.

daemonctl is the child subreaper of what it starts from before the fork (see
start._spawn), so the daemon the program leaves is handed to it, and proc/adopt
verifies that the adopted process is one the program started. Any failure stops
what the program left (only processes provably its own) and undoes the start.
"""

from daemonctl.errors import Failure, PrivilegeError
from daemonctl.proc.adopt import Adopted, Host, NotAdopted, PidfileUnreadable, left_behind, named, single
from daemonctl.settle import Launched, Pending, undo
from daemonctl.store import pidfile as pidfile_mod
from daemonctl.store import record as record_mod
from daemonctl.store.atomic import write_failure
from daemonctl.store.record import StartSpec, programs_own_pidfile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daemonctl.progress import Progress


def pid_before(spec: StartSpec) -> int | None:
    """The PID the program's pidfile names before it runs (a previous run's), if any."""
    if spec.pid_from is None:
        return None
    try:
        return _read_pid_from(spec)
    except PidfileUnreadable:
        return None


def adopt_daemon(pending: Pending, before: int | None, host: Host | None = None) -> Launched:
    """The daemon the first process left, recorded; Failure (the start undone) if there is none to adopt."""
    from daemonctl.proc.subreaper import describe, watch

    spec, name = pending.spec, pending.name
    host = host or pending.host()
    deadline = host.clock() + spec.ready_timeout
    with pending.interrupts.raising():
        status = watch(pending.launched.program.pid, spec.ready_timeout, pending.progress)
    if status is None:
        raise Failure(f"{name} did not exit within {spec.ready_timeout:g}s of starting: with --forking the program "
                      "must fork into the background and exit (--ready-timeout gives it longer)", log_tail=undo(pending))
    if status != 0:
        raise Failure(f"{name} {describe(status)}", log_tail=undo(pending))
    try:
        with pending.interrupts.raising():
            adopted = _find(host, spec, deadline, before)
    except NotAdopted as err:
        error = PrivilegeError if err.trust else Failure
        raise error(f"{name} exited with status 0 but {_subject(spec)} {err.message}", log_tail=undo(pending)) from None
    launched = Launched(adopted.identity, None, adopted.sid, adopted.pgid, first=pending.launched.program,
                        placement=pending.launched.placement)
    pending = pending._replace(launched=launched)
    try:
        _commit(pending, adopted)
    except BaseException:
        undo(pending)
        raise
    return launched


def _subject(spec: StartSpec) -> str:
    return "its" if spec.pid_from is not None else "it"


def _find(host: Host, spec: StartSpec, deadline: float, before: int | None) -> Adopted:
    if spec.pid_from is None:
        return single(host, deadline)
    return named(host, spec.pid_from, lambda: _read_pid_from(spec), deadline, before)


def _read_pid_from(spec: StartSpec) -> int | None:
    """The PID in the program's pidfile, read the safe way: never through a symlink nor from a
    FIFO, and with the daemon user's rights where that user can change what the path names."""
    from daemonctl.reconcile import pidfile_rights

    assert spec.pid_from is not None
    try:
        return pidfile_mod.read(spec.pid_from, pidfile_rights(spec), first_line=True).pid
    except (pidfile_mod.UnsafePidfile, pidfile_mod.PidfileNotPermitted) as err:
        raise PidfileUnreadable(str(err), final=True) from None
    except pidfile_mod.InvalidPidfile as err:
        # Empty or half-written: the program may be writing it right now.
        raise PidfileUnreadable(str(err)) from None


def _commit(pending: Pending, adopted: Adopted) -> None:
    """The record names the adopted daemon, then daemonctl's pidfile (unless it is the program's own)."""
    from daemonctl.reconcile import pidfile_rights

    spec, path = pending.spec, pending.state.record(pending.name)
    try:
        record_mod.save(path, pending.launched.record(pending.name, spec))
    except OSError as err:
        raise write_failure(err, "record", path) from None
    if programs_own_pidfile(spec):
        return
    try:
        pidfile_mod.write(spec.pidfile, adopted.identity.pid, pidfile_rights(spec))
    except OSError as err:
        raise write_failure(err, "pidfile", spec.pidfile) from None


def stop_left(progress: "Progress | None", host: Host) -> None:
    """Stop what a program left running that is provably its own (our children, and their groups)."""
    from daemonctl.settle import stop_groups

    stop_groups([(a.identity, a.pgid, a.sid) for a in left_behind(host)], progress)

