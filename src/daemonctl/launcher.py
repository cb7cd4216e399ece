"""start and restart: from a spec to a running daemon with its pidfile and record."""

from __future__ import annotations

import os
import signal
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from . import pidfile as pidfile_mod
from . import record as record_mod
from .daemon import RUNNING, Target, inspect, load_record
from .errors import Failure, ProgramNotFound, StatusUnknown
from .files import AtomicFile, remove
from .lock import locked
from .options import StartOptions, build_spec, program_env, with_command
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
    name, _ = build_spec(opts, state, load_record(state, name) if name else None, cwd, environ)
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
            program_env(spec, environ)  # a bad env file fails here, before the daemon is stopped
            stop_locked(Target(name, Path(recorded.spec.pidfile), recorded), schedule)
            recorded = load_record(state, name)
        return start_locked(state, name, spec, recorded)


def start_locked(state: StateDir, name: str, spec: StartSpec, recorded: Record | None) -> StartResult:
    running = _running_pid(state, name, spec, recorded)
    if running is not None:
        return StartResult(name, running, True, recorded.spec if recorded else spec)
    if recorded is not None and recorded.spec.pidfile != spec.pidfile:
        _remove_stale_pidfile(Path(recorded.spec.pidfile))
    previous = _read_bytes(state.record(name))
    with ExitStack() as undo:
        pid_file = _prepare(Path(spec.pidfile), "pidfile")
        undo.callback(pid_file.discard)
        rec_file = _prepare(state.record(name), "record", 0o600)
        undo.callback(rec_file.discard)
        logs = Logs.open(spec)
        undo.callback(logs.remove_created)
        try:
            identity = _spawn(spec, logs)
        finally:
            logs.close()
        undo.pop_all()
    new_record = Record(name, spec).running(identity)
    pid_file.commit(pidfile_mod.encode(identity.pid))
    rec_file.commit(record_mod.encode(new_record))
    if spec.wait > 0:
        _watch_or_undo(state, name, spec, identity, previous)
    return StartResult(name, identity.pid, False, spec)


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


@dataclass
class Logs:
    """The program's stdout and stderr, opened for append; remembers which files it created."""

    out_fd: int
    err_fd: int
    created: list[str]

    @classmethod
    def open(cls, spec: StartSpec) -> Logs:
        created: list[str] = []
        out_fd = _open_log(spec.stdout, "stdout", created)
        if spec.stderr == spec.stdout:
            return cls(out_fd, out_fd, created)
        try:
            return cls(out_fd, _open_log(spec.stderr, "stderr", created), created)
        except Failure:
            os.close(out_fd)
            _remove_all(created)
            raise

    def close(self) -> None:
        os.close(self.out_fd)
        if self.err_fd != self.out_fd:
            os.close(self.err_fd)

    def remove_created(self) -> None:
        """Undo a start that never ran the program: a log it created stays empty, so goes."""
        _remove_all(self.created)


def _open_log(path: str, what: str, created: list[str]) -> int:
    flags = os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC | os.O_NOCTTY
    try:
        try:
            fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o644)
            created.append(path)
            return fd
        except FileExistsError:
            return os.open(path, flags)
    except OSError as err:
        raise Failure(f"cannot open {what} log {path}: {err.strerror}") from None


def _remove_all(paths: list[str]) -> None:
    for path in paths:
        remove(Path(path))


def _prepare(path: Path, what: str, mode: int = 0o644) -> AtomicFile:
    try:
        return AtomicFile(path, mode)
    except OSError as err:
        raise Failure(f"cannot write {what} {path}: {err.strerror}") from None


def _spawn(spec: StartSpec, logs: Logs) -> Identity:
    env = program_env(spec, dict(os.environ))
    launch = Launch(spec.executable, spec.command, env, spec.chdir, spec.umask, logs.out_fd, logs.err_fd)
    if spec.wait > 0:
        from .reaper import become_subreaper

        become_subreaper()
    try:
        return spawn(launch)
    except SpawnError as err:
        if err.not_found:
            raise ProgramNotFound(f"cannot execute {spec.executable}: {err.strerror}") from None
        what = {"chdir": f"cannot change directory to {spec.chdir}"}.get(err.stage, f"cannot start {spec.executable} ({err.stage})")
        raise Failure(f"{what}: {err.strerror}") from None


def _watch_or_undo(state: StateDir, name: str, spec: StartSpec, identity: Identity, previous: bytes | None) -> None:
    from .logs import tail
    from .reaper import describe, watch

    status = watch(identity.pid, spec.wait)
    if status is None:
        return
    _kill_group(identity.pid)
    remove(Path(spec.pidfile))
    if previous is None:
        remove(state.record(name))
    else:
        from .files import atomic_write

        atomic_write(state.record(name), previous, 0o600)
    lines = tail(Path(spec.stdout), 10)
    if spec.stderr != spec.stdout:
        lines += tail(Path(spec.stderr), 10)
    raise Failure(f"{name} {describe(status)} within {spec.wait:g}s of starting", log_tail=lines)


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
