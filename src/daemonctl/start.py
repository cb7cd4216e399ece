"""start and restart: from a spec to a running daemon with its pidfile and record."""

import errno
import os
from collections.abc import Callable
from contextlib import ExitStack

from daemonctl.errors import DaemonctlError, Failure, PrivilegeError, ProgramNotFound, StatusUnknown, from_oserror
from daemonctl.faults import crash_point
from daemonctl.interrupts import InterruptGuard
from daemonctl.options import StartOptions
from daemonctl.proc.cgroup_limits import CgroupLimits
from daemonctl.proc.containment import CgroupUnusable, Placement, Prepared, create, prepare
from daemonctl.proc.containment import remove as remove_cgroups
from daemonctl.proc.privileges import Credentials, credentials_of, credentials_to_switch
from daemonctl.proc.procfs import Identity, exe_of, pid_alive, read_stat
from daemonctl.proc.spawn import Launch, SpawnError, spawn
from daemonctl.program_env import program_env
from daemonctl.reconcile import Daemon, Target, inspect, leftovers, load_record, pidfile_rights, wrote_pidfile
from daemonctl.settle import (
    Launched,
    Pending,
    close_checks,
    interrupted,
    open_readiness_checks,
    settle,
    stop_launched,
    subreaped,
    undo_commit,
)
from daemonctl.spec_merge import build_spec, inherited, with_command
from daemonctl.speedups import NamedTuple
from daemonctl.states import ACTIVE, RUNNING
from daemonctl.store import pidfile as pidfile_mod
from daemonctl.store import record as record_mod
from daemonctl.store.atomic import AtomicFile, remove, sweep_temps, write_failure
from daemonctl.store.lock import locked
from daemonctl.store.logfiles import Logs
from daemonctl.store.record import Record, StartSpec, programs_own_pidfile
from daemonctl.store.safeopen import Rights
from daemonctl.store.statedir import StateDir, validate_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daemonctl.progress import Progress
    from daemonctl.schedule import Schedule


class StartResult(NamedTuple):
    name: str
    pid: int
    already_running: bool
    spec: StartSpec
    supervisor_pid: int | None = None


def start(state: StateDir, opts: StartOptions, progress: "Progress | None" = None) -> StartResult:
    cwd, environ = os.getcwd(), dict(os.environ)
    name = validate_name(opts.name) if opts.name is not None else None
    # Build the spec before taking the lock, so bad input fails before anything is written;
    # then build it again under the lock from a record that cannot change meanwhile.
    seen = load_record(state, name) if name else None
    name, early = build_spec(opts, state, seen, cwd, environ)
    credentials_to_switch(credentials_of(early.user, early.group))
    _contain(state, name, early)  # a limit nothing here enforces fails now, before anything is written
    state.ensure()
    with locked(state.lock(name)):
        recorded = load_record(state, name)
        spec = early if recorded == seen else build_spec(opts, state, recorded, cwd, environ)[1]
        try:
            result = start_locked(state, name, spec, recorded, progress=progress)
        except BaseException:
            if recorded is None and not os.path.lexists(state.record(name)):
                from daemonctl.stop import forget_locks

                forget_locks(state, name)  # a new name whose start failed leaves no lock file behind
            raise
    if opts.program and result.already_running and not same_command(result.spec, spec):
        raise Failure(
            f"{name} is already running another command (pid {result.pid}: {_shell_words(result.spec.command)}); "
            f"start this one under a name of its own with -n NAME, or replace it with "
            f"daemonctl restart {name} -- PROGRAM [ARG]..."
        )
    return result


def start_spec(state: StateDir, name: str, spec: StartSpec, progress: "Progress | None" = None) -> StartResult:
    """Start NAME with a spec built already (an instance of a set), unless it runs."""
    credentials_to_switch(credentials_of(spec.user, spec.group))
    state.ensure()
    with locked(state.lock(name)):
        return start_locked(state, name, spec, load_record(state, name), progress=progress)


def same_command(running: StartSpec, asked: StartSpec) -> bool:
    """The same program with the same arguments; argv[0] may be spelled differently.

    The start options (logs, environment, --wait, ...) do not count: a daemon that
    runs the command asked for is already running, and `restart` applies new options.
    """
    if running.command[1:] != asked.command[1:]:
        return False
    if running.executable == asked.executable:
        return True
    return os.path.realpath(running.executable) == os.path.realpath(asked.executable)


def _shell_words(command: list[str]) -> str:
    from daemonctl.quoting import shell_join  # on one line, whatever the arguments hold: an error is one line

    return shell_join(command)


def restart(
    state: StateDir,
    name: str,
    program: tuple[str, ...],
    schedule: "Schedule",
    update_env: bool = False,
    progress: "Progress | None" = None,
) -> StartResult:
    from daemonctl.stop import stop_locked

    validate_name(name)
    cwd, environ = os.getcwd(), dict(os.environ)
    if not program and load_record(state, name) is None:
        # Exit 6 before the lock: an unknown name needs none (nor write access to the state directory).
        build_spec(StartOptions(name=name), state, None, cwd, environ)
    state.ensure()
    with locked(state.lock(name)):
        recorded = load_record(state, name)
        if recorded is None:
            # Nothing to stop: a new daemon with default options, or exit 6 without PROGRAM.
            _, spec = build_spec(StartOptions(name=name, program=program), state, None, cwd, environ)
        else:
            spec = inherited(recorded.spec, environ, update_env)
            spec = _with_program(spec, program, cwd, environ) if program else spec
            _check_startable(state, name, spec, environ)
            stop_locked(Target(name, recorded.spec.pidfile, recorded, state.record(name)), schedule.told(progress))
            crash_point("restart:stopped")
            recorded = load_record(state, name)
        return start_locked(state, name, spec, recorded, "restart", progress)


def _with_program(spec: StartSpec, program: tuple[str, ...], cwd: str, environ: dict[str, str]) -> StartSpec:
    """`spec` running PROGRAM; an instance of a set takes its own number for %i in the arguments."""
    if spec.instance is None or spec.template is None:
        return with_command(spec, program, cwd, environ)
    from daemonctl.instances import instance_command

    template = {**spec.template, "command": list(program)}
    spec = with_command(spec, tuple(instance_command(program, spec.instance)), cwd, environ)
    return spec._replace(template=template)


def _check_startable(state: StateDir, name: str, spec: StartSpec, environ: dict[str, str]) -> None:
    """Fail before restart stops anything if it could not start again (env file, user, logs, full disk)."""
    program_env(spec, environ)
    creds = credentials_to_switch(credentials_of(spec.user, spec.group))
    _contain(state, name, spec)
    # The logs by the rules start opens them with: a FIFO or symlink planted there fails now.
    logs = Logs.open(spec, creds)
    logs.close()
    logs.remove_created()
    path = state.record(name)
    try:
        file = AtomicFile(path, 0o600)
        file.reserve(len(record_mod.encode(Record(name, spec))) + 512)
        file.discard()
    except OSError as err:
        raise from_oserror(err, f"cannot write record {path}") from None


def start_locked(
    state: StateDir,
    name: str,
    spec: StartSpec,
    recorded: Record | None,
    action: str = "start",
    progress: "Progress | None" = None,
    *,
    spawner: Callable[..., Identity] | None = None,
) -> StartResult:
    """Start NAME (the lock held) unless it runs; `spawner`: a test's stand-in for spawn (None: spawn)."""
    crash_point("start:locked")
    creds = credentials_to_switch(credentials_of(spec.user, spec.group))
    running = _running_pid(state, name, spec, recorded)
    if running is not None:
        return StartResult(name, running, True, recorded.spec if recorded else spec)
    if recorded is not None and recorded.spec.pidfile != spec.pidfile:
        _remove_stale_pidfile(recorded, pidfile_rights(recorded.spec))
    sweep_temps(spec.pidfile, Rights.of(creds))
    sweep_temps(state.record(name))
    previous = _read_bytes(state.record(name))
    checks, ready_env = open_readiness_checks(spec)
    logs = None
    before = _pid_before(spec) if spec.forking else None
    # Children this process already has (a set's earlier instances, adopted or subreaped): not this program's.
    others = _children() if subreaped(spec) else frozenset()
    try:
        with InterruptGuard() as interrupts:
            if checks or spec.wait > 0 or spec.forking:
                from daemonctl.store.runlog import RunLogs  # only for a start that watches its logs

                logs = RunLogs([spec.stdout, spec.stderr], Rights.of(creds))
            tail = logs.last_lines if logs is not None and spec.forking else None
            try:
                launched = _launch(state, name, spec, creds, ready_env, previous, spawner, tail)
            except Failure:
                # --respawn --forking: the supervisor reports once it adopted (or not), and an
                # interrupt meanwhile waits for that; the failed start is undone all the same.
                if spec.respawn and spec.forking and interrupts.received is not None:
                    raise interrupted(action, name, interrupts.received) from None
                raise
            crash_point("start:spawned")
            pending = Pending(state, name, spec, launched, previous, logs, interrupts, progress, others)
            launched = settle(pending, checks, action, before)
    finally:
        close_checks(checks)
        if logs is not None:
            logs.close()
    sup = launched.supervisor.pid if launched.supervisor else None
    return StartResult(name, launched.program.pid, False, spec, sup)


def _pid_before(spec: StartSpec) -> int | None:
    from daemonctl.forking import pid_before  # --forking only, as proc/adopt it imports

    return pid_before(spec)


def _children() -> frozenset[tuple[int, int]]:
    from daemonctl.proc.adopt import Host

    return Host().present()


def _launch(
    state: StateDir,
    name: str,
    spec: StartSpec,
    creds: Credentials | None,
    extra_env: dict[str, str],
    previous: bytes | None,
    spawner: Callable[..., Identity] | None = None,
    tail: Callable[[int], list[str]] | None = None,
) -> Launched:
    """Spawn with pidfile and record committed before the exec; nothing is left behind on failure.

    `tail(n)`: the last lines of this run's log, for a failure to show before a log it created goes.
    """
    prepared = _contain(state, name, spec)
    with ExitStack() as undo:
        commit = _Commit(state, name, spec, previous, Rights.of(creds))
        undo.callback(commit.discard)
        logs = Logs.open(spec, creds)
        undo.callback(logs.remove_created)
        if prepared is not None:
            commit.placement = _create_cgroups(prepared, undo)
        try:
            launched = _spawn(state, name, spec, logs, creds, extra_env, commit, spawner)
        except Failure as err:
            if tail is not None:
                err.log_tail = tail(10)  # --respawn --forking: the supervisor's why, and the program's
            raise
        finally:
            logs.close()
        undo.pop_all()
    return launched


def cgroup_limits(spec: StartSpec) -> CgroupLimits:
    return CgroupLimits(spec.memory_max, spec.tasks_max, spec.cpu_max)


def _contain(state: StateDir, name: str, spec: StartSpec) -> Prepared | None:
    """The daemon's cgroups as planned here (None: no cgroups); a limit nothing here enforces fails the start."""
    # An instance of a respawned set: its program goes in the instance's `program` cgroup, the
    # set's one supervisor in none of them (supervise/poolclient.py).
    return prepare(str(state.path), name, cgroup_limits(spec), spec.respawn is not None)


def _create_cgroups(prepared: Prepared, undo: ExitStack) -> Placement | None:
    """Make them (removed again if the start fails); None where they cannot be made and no limit needs them."""
    try:
        create(prepared.placement, prepared.limits, prepared.layout)
    except CgroupUnusable:
        if prepared.limits.given():
            raise
        return None
    undo.callback(remove_cgroups, prepared.placement)
    return prepared.placement


class _Commit:
    """Pidfile and record of a start, prepared before the fork and committed before the exec.

    The grandchild execs only once both are on disk (see spawn), so a daemonctl
    killed at any point leaves either no program or one its record names. With
    --respawn the identity committed is the supervisor's; the program's follows.
    """

    def __init__(self, state: StateDir, name: str, spec: StartSpec, previous: bytes | None, rights: Rights | None) -> None:
        self.state, self.name, self.spec, self.previous = state, name, spec, previous
        self.done = False
        self.sid: int | None = None
        self.placement: Placement | None = None
        blank = Record(name, spec)
        # With the daemon user's rights where it can change the pidfile's path (see safeopen).
        # None: the pidfile is the one a --forking program writes itself, left to it.
        self.pidfile = None
        if not programs_own_pidfile(spec):
            self.pidfile = _prepare(spec.pidfile, "pidfile", len(pidfile_mod.encode(2**22)), rights=rights)
        try:
            self.record = _prepare(state.record(name), "record", record_mod.reservation(blank) + 512, 0o600)
        except Failure:
            if self.pidfile is not None:
                self.pidfile.discard()
            raise

    def meanwhile(self) -> None:
        """Between the fork and the program's PID (about 3 ms, see spawn): the record's encoder loads."""
        import json  # noqa: F401

    def __call__(self, identity: Identity) -> None:
        crash_point("start:ready")
        # Its session is the intermediate's, set before the fork: there already.
        st = read_stat(identity.pid)
        self.sid = st.sid if st is not None else None
        # The record first: a pidfile never names a process no record knows of. When both are in
        # one directory, one fsync of it after both renames makes both durable (0.3 ms): a
        # journaling file system keeps the order of the two renames.
        pidfile_next = self.pidfile is not None and os.path.dirname(self.pidfile.path) == os.path.dirname(self.record.path)
        _commit(self.record, record_mod.encode(self._record(identity)), "record", sync_dir=not pidfile_next)
        self.done = True
        crash_point("start:record")
        if self.pidfile is not None:
            _commit(self.pidfile, pidfile_mod.encode(identity.pid), "pidfile")
        crash_point("start:pidfile")

    def _record(self, identity: Identity) -> Record:
        rec = Record(self.name, self.spec).running(identity, sid=self.sid)
        if self.placement is not None:
            rec = rec._replace(cgroup=self.placement.v2, cgroup_v1=list(self.placement.v1))
        if not self.spec.respawn:
            return rec
        # The supervisor, before its program exists: stop and status already find it.
        return rec._replace(pid=None, starttime=None, supervisor_pid=identity.pid, supervisor_starttime=identity.starttime)

    def complete(self, launched: Launched) -> None:
        """--respawn: the record with the program the supervisor started."""
        try:
            record_mod.save(self.state.record(self.name), launched.record(self.name, self.spec))
        except OSError as err:
            raise write_failure(err, "record", self.state.record(self.name)) from None

    def discard(self) -> None:
        if self.pidfile is not None:
            self.pidfile.discard()
        self.record.discard()

    def undo(self) -> None:
        """The program did not start after all: put back what was there before."""
        if self.done:
            undo_commit(self.state, self.name, self.spec, self.previous)


def _running_pid(state: StateDir, name: str, spec: StartSpec, recorded: Record | None) -> int | None:
    """The PID of this daemon if it already runs, by its record or, failing that, its pidfile."""
    try:
        daemon = inspect(Target(name, recorded.spec.pidfile if recorded else spec.pidfile, recorded))
    except StatusUnknown:
        return None  # garbage in the pidfile: it will be replaced
    if recorded is not None and recorded.supervisor is not None:
        return _supervised_running(daemon)
    if daemon.state != RUNNING and leftovers(daemon):
        _stop_remains(daemon)  # never a new program beside what is left of the old one
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
    if daemon.state in ACTIVE:
        return daemon.pid or (daemon.supervisor.pid if daemon.supervisor else None)
    if daemon.identity is not None or leftovers(daemon):
        _stop_remains(daemon)
    return None


def _stop_remains(daemon: Daemon) -> None:
    """Stop what still runs of a dead daemon (its program, or its group's leftovers)."""
    from daemonctl.schedule import default_schedule
    from daemonctl.stop import stop_locked

    stop_locked(daemon.target, default_schedule(10.0))


def _prepare(path: str, what: str, size: int, mode: int = 0o644, rights: Rights | None = None) -> AtomicFile:
    try:
        file = AtomicFile(path, mode, rights)
        file.reserve(size)
        return file
    except OSError as err:
        raise write_failure(err, what, path) from None


def _commit(file: AtomicFile, data: bytes, what: str, sync_dir: bool = True) -> None:
    try:
        file.commit(data, sync_dir)
    except OSError as err:
        raise write_failure(err, what, file.path) from None


def _spawn(
    state: StateDir,
    name: str,
    spec: StartSpec,
    logs: Logs,
    creds: Credentials | None,
    extra_env: dict[str, str],
    commit: _Commit,
    spawner: Callable[..., Identity] | None = None,
) -> Launched:
    env = {**program_env(spec, dict(os.environ), creds.environment() if creds else None), **extra_env}
    if subreaped(spec) and not (spec.log_writer and not spec.respawn):  # with a writer: see _spawn_with_writer
        from daemonctl.proc.subreaper import become_subreaper

        become_subreaper()
    try:
        if spec.respawn and spec.instance is not None:
            # An instance of a set: its program runs under the set's one supervisor.
            from daemonctl.supervise.poolclient import spawn_in_pool

            supervisor, program = spawn_in_pool(state, name, spec, env, logs.err_fd, on_ready=commit,
                                                placement=commit.placement)
            launched = Launched(program, supervisor, commit.sid, pool=True, placement=commit.placement)
            try:
                commit.complete(launched)
            except BaseException:
                stop_launched(launched, None)
                raise
            return launched
        if spec.respawn:
            from daemonctl.supervise.client import spawn_supervised

            supervisor, program = spawn_supervised(
                name, spec, env, state.record(name), state.lock(name), logs.err_fd, on_ready=commit,
                writer_lock=state.writer_lock(name), placement=commit.placement,
            )
            launched = Launched(program, supervisor, commit.sid, placement=commit.placement)
            if spec.forking:
                # The daemon the supervisor adopted: in a session and group of the program's making.
                st = read_stat(program.pid)
                launched = Launched(program, supervisor, st.sid if st else None, st.pgid if st else None,
                                    placement=commit.placement)
            try:
                commit.complete(launched)
            except BaseException:
                stop_launched(launched, None)  # the record that would name them could not be written
                raise
            return launched
        if spec.log_writer:
            return _spawn_with_writer(state, name, spec, logs, creds, env, commit, spawner)
        launch = Launch(
            spec.executable, spec.command, env, spec.chdir, spec.umask, logs.out_fd, logs.err_fd, creds, spec.nice,
            cgroups=commit.placement.program_joins() if commit.placement else (),
            rlimits=program_rlimits(spec),
        )
        # Looked up at the call, not bound at definition: a test may replace the module's spawn.
        program = (spawner or spawn)(launch, on_ready=commit, meanwhile=commit.meanwhile)
        return Launched(program, None, commit.sid, placement=commit.placement)
    except SpawnError as err:
        commit.undo()
        raise _spawn_failure(spec, err) from None
    except BaseException:
        commit.undo()
        raise


def _spawn_with_writer(
    state: StateDir,
    name: str,
    spec: StartSpec,
    logs: Logs,
    creds: Credentials | None,
    env: dict[str, str],
    commit: _Commit,
    spawner: Callable[..., Identity] | None = None,
) -> Launched:
    """The log writer first (it waits for the pipes), then the program with the pipes as stdout and stderr.

    If the program does not start, the pipes close with it and the writer ends by itself.
    """
    from daemonctl.supervise.logclient import WriterPipes, spawn_writer, writer_config

    pipes = WriterPipes()
    try:
        try:
            spawn_writer(writer_config(name, spec, state.writer_lock(name), env, dict(os.environ)), pipes, logs.err_fd)
        except SpawnError as err:
            raise Failure(f"cannot start the log writer ({err.stage}): {err.strerror}") from None
        if subreaped(spec):
            from daemonctl.proc.subreaper import become_subreaper

            # Only now: the writer went to init, and is never taken for what the program left.
            become_subreaper()

        def on_ready(identity: Identity) -> None:
            commit(identity)
            pipes.tell_pid(identity.pid)  # before the program may exec: syslog's tag is ready for its first line

        launch = Launch(
            spec.executable, spec.command, env, spec.chdir, spec.umask, pipes.out_write, pipes.err_write, creds, spec.nice,
            cgroups=commit.placement.program_joins() if commit.placement else (),
            rlimits=program_rlimits(spec),
        )
        return Launched((spawner or spawn)(launch, on_ready=on_ready), None, commit.sid, placement=commit.placement)
    finally:
        pipes.close()


def program_rlimits(spec: StartSpec) -> tuple[tuple[str, int, int], ...]:
    """--limit as the grandchild's setrlimit takes them."""
    if not spec.limit:
        return ()
    from daemonctl.proc.rlimits import for_setrlimit

    return for_setrlimit(spec.limit)


def _spawn_failure(spec: StartSpec, err: SpawnError) -> DaemonctlError:
    if err.not_found:
        return ProgramNotFound(f"cannot execute {spec.executable}: {err.strerror}")
    if err.stage == "adopt":
        return Failure(f"cannot start {spec.executable} with --forking: no daemon to adopt (its log says why)")
    if err.stage == "cgroup":
        return Failure(f"cannot move {spec.executable} into its cgroup: {err.strerror}")
    if err.stage.startswith("limit "):
        return Failure(f"cannot set --limit {err.stage.partition(' ')[2]} for {spec.executable}: {err.strerror}")
    if err.stage == "killed":
        return Failure(f"cannot start {spec.executable}: it was killed before it could run")
    if err.stage in ("user", "nice") and err.errno in (errno.EPERM, errno.EACCES):
        return PrivilegeError(f"cannot set the program's {err.stage}: {err.strerror}")
    what = {"chdir": f"cannot change directory to {spec.chdir}"}.get(err.stage, f"cannot start {spec.executable} ({err.stage})")
    return Failure(f"{what}: {err.strerror}")


def _remove_stale_pidfile(recorded: Record, rights: Rights | None) -> None:
    """The pidfile of an earlier start, if daemonctl wrote it and its process is gone."""
    path = recorded.spec.pidfile
    try:
        pid = pidfile_mod.read(path, rights).pid
    except pidfile_mod.InvalidPidfile:
        return
    if pid is not None and wrote_pidfile(recorded, path, pid) and not pid_alive(pid):
        remove(path, rights)


def _read_bytes(path: str) -> bytes | None:
    from daemonctl.store.schema import Invalid, read

    try:
        return read(path)
    except (Invalid, OSError) as err:
        raise Failure(f"cannot read record {path}: {err}") from None
