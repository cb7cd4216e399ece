"""start and restart: from a spec to a running daemon with its pidfile and record."""

from __future__ import annotations

import errno
import os
import signal
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from . import pidfile as pidfile_mod
from . import record as record_mod
from .daemon import RUNNING, Target, inspect, load_record
from .errors import DaemonctlError, Failure, PrivilegeError, ProgramNotFound, StatusUnknown, from_oserror
from .faults import crash_point
from .files import AtomicFile, atomic_write, remove, sweep_temps, write_failure
from .lock import locked
from .logfiles import Logs
from .options import StartOptions, build_spec, with_command
from .privs import Credentials, for_spec, needed
from .procfs import Identity, exe_of, group_members, pid_alive
from .record import Record, StartSpec
from .schedule import Schedule
from .spawn import Launch, SpawnError, spawn
from .state import StateDir, validate_name


@dataclass(frozen=True)
class StartResult:
    name: str
    pid: int
    already_running: bool
    spec: StartSpec


def start(state: StateDir, opts: StartOptions) -> StartResult:
    cwd, environ = os.getcwd(), dict(os.environ)
    name = validate_name(opts.name) if opts.name is not None else None
    # Build the spec before taking the lock, so bad input fails before anything is written;
    # then build it again under the lock from a record that cannot change meanwhile.
    name, early = build_spec(opts, state, load_record(state, name) if name else None, cwd, environ)
    needed(for_spec(early.user, early.group))
    state.ensure()
    with locked(state.lock(name)):
        recorded = load_record(state, name)
        name, spec = build_spec(opts, state, recorded, cwd, environ)
        return start_locked(state, name, spec, recorded)


def restart(state: StateDir, name: str, program: tuple[str, ...], schedule: Schedule) -> StartResult:
    from .control import stop_locked

    validate_name(name)
    cwd, environ = os.getcwd(), dict(os.environ)
    state.ensure()
    with locked(state.lock(name)):
        recorded = load_record(state, name)
        if recorded is None:
            # Nothing to stop: a new daemon with default options, or exit 6 without PROGRAM.
            _, spec = build_spec(StartOptions(name=name, program=program), state, None, cwd, environ)
        else:
            spec = with_command(recorded.spec, program, cwd, environ) if program else recorded.spec
            _check_startable(state, name, spec)
            stop_locked(Target(name, Path(recorded.spec.pidfile), recorded), schedule)
            crash_point("restart:stopped")
            recorded = load_record(state, name)
        return start_locked(state, name, spec, recorded)


def _check_startable(state: StateDir, name: str, spec: StartSpec) -> None:
    """Fail before restart stops anything if it could not start again (user, full disk, read-only)."""
    needed(for_spec(spec.user, spec.group))
    path = state.record(name)
    try:
        file = AtomicFile(path, 0o600)
        file.reserve(len(record_mod.encode(Record(name, spec))) + 512)
        file.discard()
    except OSError as err:
        raise from_oserror(err, f"cannot write record {path}") from None


def start_locked(state: StateDir, name: str, spec: StartSpec, recorded: Record | None) -> StartResult:
    crash_point("start:locked")
    creds = needed(for_spec(spec.user, spec.group))
    running = _running_pid(state, name, spec, recorded)
    if running is not None:
        return StartResult(name, running, True, recorded.spec if recorded else spec)
    if recorded is not None and recorded.spec.pidfile != spec.pidfile:
        _remove_stale_pidfile(Path(recorded.spec.pidfile))
    sweep_temps(Path(spec.pidfile))
    sweep_temps(state.record(name))
    previous = _read_bytes(state.record(name))
    with ExitStack() as undo:
        commit = _Commit(state, name, spec, previous)
        undo.callback(commit.discard)
        logs = Logs.open(spec, creds)
        undo.callback(logs.remove_created)
        try:
            identity = _spawn(spec, logs, creds, commit)
        finally:
            logs.close()
        undo.pop_all()
    crash_point("start:spawned")
    if spec.wait > 0:
        _watch_or_undo(state, name, spec, identity, previous)
    return StartResult(name, identity.pid, False, spec)


class _Commit:
    """Pidfile and record of a start, prepared before the fork and committed before the exec.

    The grandchild execs only once both are on disk (see spawn), so a daemonctl
    killed at any point leaves either no program or one its record names.
    """

    def __init__(self, state: StateDir, name: str, spec: StartSpec, previous: bytes | None) -> None:
        self.state, self.name, self.spec, self.previous = state, name, spec, previous
        self.done = False
        blank = Record(name, spec)
        self.pidfile = _prepare(Path(spec.pidfile), "pidfile", len(pidfile_mod.encode(2**22)))
        try:
            self.record = _prepare(state.record(name), "record", len(record_mod.encode(blank)) + 512, 0o600)
        except Failure:
            self.pidfile.discard()
            raise

    def __call__(self, identity: Identity) -> None:
        crash_point("start:ready")
        # The record first: a pidfile never names a process no record knows of.
        _commit(self.record, record_mod.encode(Record(self.name, self.spec).running(identity)), "record")
        self.done = True
        crash_point("start:record")
        _commit(self.pidfile, pidfile_mod.encode(identity.pid), "pidfile")
        crash_point("start:pidfile")

    def discard(self) -> None:
        self.pidfile.discard()
        self.record.discard()

    def undo(self) -> None:
        """The program did not start after all: put back what was there before."""
        if self.done:
            _undo_commit(self.state, self.name, self.spec, self.previous)


def _running_pid(state: StateDir, name: str, spec: StartSpec, recorded: Record | None) -> int | None:
    """The PID of this daemon if it already runs, by its record or, failing that, its pidfile."""
    try:
        daemon = inspect(Target(name, Path(recorded.spec.pidfile if recorded else spec.pidfile), recorded))
    except StatusUnknown:
        return None  # garbage in the pidfile: it will be replaced
    if daemon.state == RUNNING and daemon.pid is not None:
        if recorded is not None:
            return daemon.pid
        # A pidfile with no record (another tool's): running only if it is this program,
        # as start-stop-daemon --exec decides.
        if exe_of(daemon.pid) == spec.executable:
            return daemon.pid
    return None


def _prepare(path: Path, what: str, size: int, mode: int = 0o644) -> AtomicFile:
    try:
        file = AtomicFile(path, mode)
        file.reserve(size)
        return file
    except OSError as err:
        raise write_failure(err, what, path) from None


def _commit(file: AtomicFile, data: bytes, what: str) -> None:
    try:
        file.commit(data)
    except OSError as err:
        raise write_failure(err, what, file.path) from None


def _spawn(spec: StartSpec, logs: Logs, creds: Credentials | None, commit: _Commit) -> Identity:
    env = {**os.environ, **(creds.environment() if creds else {}), **spec.env}
    launch = Launch(spec.executable, spec.command, env, spec.chdir, spec.umask, logs.out_fd, logs.err_fd, creds, spec.nice)
    if spec.wait > 0:
        from .reaper import become_subreaper

        become_subreaper()
    try:
        return spawn(launch, on_ready=commit)
    except SpawnError as err:
        commit.undo()
        raise _spawn_failure(spec, err) from None
    except BaseException:
        commit.undo()
        raise


def _spawn_failure(spec: StartSpec, err: SpawnError) -> DaemonctlError:
    if err.not_found:
        return ProgramNotFound(f"cannot execute {spec.executable}: {err.strerror}")
    if err.stage in ("user", "nice") and err.errno in (errno.EPERM, errno.EACCES):
        return PrivilegeError(f"cannot set the program's {err.stage}: {err.strerror}")
    what = {"chdir": f"cannot change directory to {spec.chdir}"}.get(err.stage, f"cannot start {spec.executable} ({err.stage})")
    return Failure(f"{what}: {err.strerror}")


def _watch_or_undo(state: StateDir, name: str, spec: StartSpec, identity: Identity, previous: bytes | None) -> None:
    from .logs import tail
    from .reaper import describe, watch

    status = watch(identity.pid, spec.wait)
    if status is None:
        return
    _kill_group(identity.pid)
    _undo_commit(state, name, spec, previous)
    lines = tail(Path(spec.stdout), 10)
    if spec.stderr != spec.stdout:
        lines += tail(Path(spec.stderr), 10)
    raise Failure(f"{name} {describe(status)} within {spec.wait:g}s of starting", log_tail=lines)


def _undo_commit(state: StateDir, name: str, spec: StartSpec, previous: bytes | None) -> None:
    remove(Path(spec.pidfile))
    if previous is None:
        remove(state.record(name))
    else:
        try:
            atomic_write(state.record(name), previous, 0o600)
        except OSError as err:
            raise write_failure(err, "record", state.record(name)) from None


def _kill_group(pgid: int) -> None:
    """Leave nothing of a failed start behind: whatever the program started dies with it."""
    if group_members(pgid):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass


def _remove_stale_pidfile(path: Path) -> None:
    try:
        pid = pidfile_mod.read(path).pid
    except pidfile_mod.InvalidPidfile:
        return
    if pid is None or not pid_alive(pid):
        remove(path)


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
