"""start and restart: from a spec to a running daemon with its pidfile and record."""

from __future__ import annotations

import os
import signal
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

from . import pidfile as pidfile_mod
from . import record as record_mod
from .daemon import RESTARTING, RUNNING, Daemon, Target, inspect, load_record
from .errors import Failure, ProgramNotFound, StatusUnknown
from .files import AtomicFile, remove
from .lock import locked
from .options import StartOptions, build_spec, program_env, with_command
from .procfs import Identity, exe_of, pid_alive
from .record import Record, StartSpec
from .schedule import Schedule, Send, Wait, run
from .spawn import Launch, SpawnError, spawn
from .state import StateDir, validate_name

# A start that failed its --wait or readiness: TERM, and KILL what does not listen.
UNDO_SCHEDULE = Schedule((Send(signal.SIGTERM), Wait(5.0), Send(signal.SIGKILL), Wait(5.0)))


@dataclass(frozen=True)
class StartResult:
    name: str
    pid: int
    already_running: bool
    spec: StartSpec
    supervisor_pid: int | None = None


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
    checks, ready_env = _arm(spec)
    try:
        launched = _launch(state, name, spec, ready_env)
        if checks:
            _await_ready(state, name, spec, launched, previous, checks)
        if spec.wait > 0:
            _watch_or_undo(state, name, spec, launched, previous)
    finally:
        _close_checks(checks)
    sup = launched.supervisor.pid if launched.supervisor else None
    return StartResult(name, launched.program.pid, False, spec, sup)


@dataclass(frozen=True)
class Launched:
    program: Identity
    supervisor: Identity | None  # with --respawn

    @property
    def pidfile_pid(self) -> int:
        return (self.supervisor or self.program).pid

    def record(self, name: str, spec: StartSpec) -> Record:
        rec = Record(name, spec).running(self.program)
        if self.supervisor is None:
            return rec
        return replace(rec, supervisor_pid=self.supervisor.pid, supervisor_starttime=self.supervisor.starttime)


def _launch(state: StateDir, name: str, spec: StartSpec, extra_env: dict[str, str]) -> Launched:
    """Spawn, then write pidfile and record; nothing is left behind when spawning fails."""
    with ExitStack() as undo:
        pid_file = _prepare(Path(spec.pidfile), "pidfile")
        undo.callback(pid_file.discard)
        rec_file = _prepare(state.record(name), "record", 0o600)
        undo.callback(rec_file.discard)
        logs = Logs.open(spec)
        undo.callback(logs.remove_created)
        try:
            launched = _spawn(state, name, spec, logs, extra_env)
        finally:
            logs.close()
        undo.pop_all()
    pid_file.commit(pidfile_mod.encode(launched.pidfile_pid))
    rec_file.commit(record_mod.encode(launched.record(name, spec)))
    return launched


def _running_pid(state: StateDir, name: str, spec: StartSpec, recorded: Record | None) -> int | None:
    """The PID of this daemon if it already runs, by its record or, failing that, its pidfile."""
    try:
        daemon = inspect(Target(name, Path(recorded.spec.pidfile if recorded else spec.pidfile), recorded))
    except StatusUnknown:
        return None  # garbage in the pidfile: it will be replaced
    if recorded is not None and recorded.supervisor is not None:
        return _supervised_running(daemon)
    if daemon.state == RUNNING and daemon.pid is not None:
        if recorded is not None:
            return daemon.pid
        # A pidfile with no record (another tool's): running only if it is this program,
        # as start-stop-daemon --exec decides.
        if exe_of(daemon.pid) == spec.executable:
            return daemon.pid
    return None


def _supervised_running(daemon: Daemon) -> int | None:
    """A supervised daemon that runs; one whose supervisor was killed is stopped first."""
    if daemon.state in (RUNNING, RESTARTING):
        return daemon.pid or (daemon.supervisor.pid if daemon.supervisor else None)
    if daemon.identity is not None:
        from .control import stop_locked
        from .schedule import default_schedule

        stop_locked(daemon.target, default_schedule(10.0))
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


def _spawn(state: StateDir, name: str, spec: StartSpec, logs: Logs, extra_env: dict[str, str]) -> Launched:
    env = {**program_env(spec, dict(os.environ)), **extra_env}
    if spec.wait > 0 or spec.readiness:
        from .reaper import become_subreaper

        become_subreaper()
    try:
        if spec.respawn:
            from .respawn import spawn_supervised

            supervisor, program = spawn_supervised(name, spec, env, state.record(name), state.lock(name), logs.err_fd)
            return Launched(program, supervisor)
        launch = Launch(spec.executable, spec.command, env, spec.chdir, spec.umask, logs.out_fd, logs.err_fd)
        return Launched(spawn(launch), None)
    except SpawnError as err:
        if err.not_found:
            raise ProgramNotFound(f"cannot execute {spec.executable}: {err.strerror}") from None
        what = {"chdir": f"cannot change directory to {spec.chdir}"}.get(err.stage, f"cannot start {spec.executable} ({err.stage})")
        raise Failure(f"{what}: {err.strerror}") from None


def _arm(spec: StartSpec) -> tuple[list, dict[str, str]]:  # type: ignore[type-arg]
    if not spec.readiness:
        return [], {}
    from .readiness import arm

    return arm(spec)


def _close_checks(checks: list) -> None:  # type: ignore[type-arg]
    for check in checks:
        check.close()


def _await_ready(state: StateDir, name: str, spec: StartSpec, launched: Launched, previous: bytes | None, checks: list) -> None:  # type: ignore[type-arg]
    from .readiness import NotReady, ProcessWatch, wait_ready

    watch = ProcessWatch(launched.program, launched.supervisor, checks)
    try:
        wait_ready(checks, spec.ready_timeout, watch)
    except NotReady as err:
        raise Failure(f"{name} {err}", log_tail=_undo(state, name, spec, launched, previous)) from None
    finally:
        watch.close()


def _watch_or_undo(state: StateDir, name: str, spec: StartSpec, launched: Launched, previous: bytes | None) -> None:
    from .reaper import describe, watch

    status = watch(launched.program.pid, spec.wait)
    if status is None:
        return
    lines = _undo(state, name, spec, launched, previous)
    raise Failure(f"{name} {describe(status)} within {spec.wait:g}s of starting", log_tail=lines)


def _undo(state: StateDir, name: str, spec: StartSpec, launched: Launched, previous: bytes | None) -> list[str]:
    """Stop what this start started, put pidfile and record back; the last lines of the log."""
    from .files import atomic_write
    from .logs import tail
    from .respawn import end_supervisor

    end_supervisor(launched.supervisor)  # first, so that nothing is restarted
    _stop_group(launched.program)
    remove(Path(spec.pidfile))
    if previous is None:
        remove(state.record(name))
    else:
        atomic_write(state.record(name), previous, 0o600)
    lines = tail(Path(spec.stdout), 10)
    if spec.stderr != spec.stdout:
        lines += tail(Path(spec.stderr), 10)
    return lines


def _stop_group(program: Identity) -> None:
    """Leave nothing of a failed start behind: the program and whatever it started."""
    from .stopper import ProcessGroup

    with ProcessGroup(program, program.pid) as group:
        run(UNDO_SCHEDULE, group.send, group.wait_gone)


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
