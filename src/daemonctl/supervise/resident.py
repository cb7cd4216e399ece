"""The resident supervisor process of `start --respawn` (`python -m daemonctl.supervise.resident`).

It lives as long as the daemon, so it is an interpreter of its own running this
small module: no Click, no psutil. daemonctl hands it the record (spec included)
and the program's environment as JSON on its stdin (a memfd: no size limit, as an
environment variable would have), and its stdout is a pipe on which it forwards
the first program's spawn report, then lets go of it.
"""

from __future__ import annotations

import errno
import os
import select
import signal
import time

from daemonctl.faults import crash_point, fail_point
from daemonctl.proc.cgroupstop import members_of
from daemonctl.proc.containment import PROGRAM
from daemonctl.proc.privileges import Credentials, credentials_of, pinned
from daemonctl.proc.procfs import Identity, read_stat
from daemonctl.proc.rlimits import for_setrlimit
from daemonctl.proc.spawn import Launch, SpawnError, parse_report, spawn_child
from daemonctl.proc.usage import oom_kills
from daemonctl.start_options import recorded
from daemonctl.states import RESTARTING, RUNNING
from daemonctl.store import schema
from daemonctl.store.lock import locked
from daemonctl.store.logfiles import open_log
from daemonctl.store.safeopen import Refused, Rights, acting_as, open_read, rights_for
from daemonctl.supervise.loop import Child, Supervisor
from daemonctl.supervise.policy import UNKNOWN_ENDING, Ending, Policy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager
    from typing import Any

# The record is handled as checked plain JSON here: record.py and its NamedTuples
# would cost the resident supervisor a megabyte and more.


class LogWriter:
    """With a log option the supervisor writes the logs itself: the program's pipes, read while it waits.

    The pipes live as long as the supervisor (it keeps their write ends), so a
    restart never ends a stream: each run gets the same pipes as stdout and stderr.
    """

    def __init__(self, config: dict[str, Any], creds: Credentials | None) -> None:
        from daemonctl.store.writerlock import hold_lock
        from daemonctl.supervise.logsink import LogSettings, build_sink, set_timezone
        from daemonctl.supervise.pump import Pump, widen

        set_timezone(config.get("tz"))
        self.lock = hold_lock(config["lock_path"])
        out_read, self.out = os.pipe2(os.O_CLOEXEC)
        err_read, self.err = os.pipe2(os.O_CLOEXEC)
        for fd in (out_read, err_read):
            widen(fd)
        self.sink = build_sink(LogSettings(config["record"], config.get("syslog_socket") or "/dev/log"), creds)
        self.pump = Pump(self.sink, (out_read, err_read))

    def wait_exit(self, pid: int) -> None:
        """Write the logs until the program `pid` has ended (it stays a zombie, not reaped)."""
        pidfd = os.pidfd_open(pid)
        try:
            while pidfd not in self.pump.wait([pidfd], None):
                pass
        finally:
            os.close(pidfd)

    def sleep(self, wake: int, seconds: float) -> None:
        self.pump.wait([wake], max(seconds, 0.0))

    def finish(self) -> None:
        """The supervision is over: write what the pipes still hold until they end (a few seconds at most)."""
        os.close(self.out)
        os.close(self.err)
        self.pump.wait([], DRAIN_LIMIT)
        self.pump.close()
        self.sink.close()
        os.close(self.lock)


DRAIN_LIMIT = 5.0  # seconds the last output may take to come once the program is gone (something it started may hold the pipes)
_writer: LogWriter | None = None  # set in main when the supervisor writes the logs


class ProgramChild:
    """The program, our child, leader of its own process group (`pgid`: the group it is in, when
    not its own: a --forking daemon forked from its session's leader), and alone in its cgroup where it has one."""

    def __init__(self, pid: int, pgid: int | None = None, spec: Spec | None = None, ooms: int | None = None) -> None:
        self.pid = pid
        self.pgid = pid if pgid is None else pgid
        self.reaped = False
        self.reaps_strays = True  # False under a set's supervisor: its other children are other instances'
        self.cgroup = spec.program_cgroup if spec is not None else None
        self.cgroup_v1 = spec.cgroup_v1 if spec is not None else ()
        self.ooms = ooms  # the cgroup's count of OOM kills before this run; None where none is kept

    def wait(self) -> Ending:
        try:
            if _writer is not None:
                # Still our child first: once reaped elsewhere, its PID may be another process's.
                os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
                _writer.wait_exit(self.pid)
            # Wait without reaping first: while the zombie holds the PID, its group number
            # cannot be reused, so what is left of the group can be killed safely.
            os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:
            return self._reaped_elsewhere()
        try:
            os.killpg(self.pgid, signal.SIGKILL)
        except OSError:
            pass
        if self.cgroup is not None:
            clear_cgroup(self.cgroup)  # the next run starts in an empty cgroup
        _, status = os.waitpid(self.pid, 0)
        self.reaped = True
        if self.reaps_strays:
            _reap_strays()
        if _writer is not None:
            _writer.pump.end_of_run()  # its last lines, and an unfinished one, before the next run's
        ending = Ending.of_wait_status(status)
        if self.ooms is not None and ending.signal == signal.SIGKILL:
            after = oom_kills(self.cgroup, self.cgroup_v1) if self.cgroup else None
            ending = ending._replace(oom=after is not None and after > self.ooms)
        return ending

    def _reaped_elsewhere(self) -> Ending:
        """Not our child any more: it ended, how is unknown. Its group number may be free and taken
        by now, so only its cgroup (where it has one) is cleared of what it left."""
        self.reaped = True
        if self.cgroup is not None:
            clear_cgroup(self.cgroup)
        if self.reaps_strays:
            _reap_strays()
        if _writer is not None:
            _writer.pump.end_of_run()
        return UNKNOWN_ENDING

    def signal(self, sig: int, group: bool = False) -> None:
        if self.reaped:
            return
        try:
            if group:
                os.killpg(self.pgid, sig)
            else:
                os.kill(self.pid, sig)
        except OSError:
            pass


def _reap_strays() -> None:
    """Reap exited children other than the program: with --forking we are the subreaper of
    what it starts, and what it orphans (an intermediate, a worker outliving its master) is ours."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
CLEAR_TIMEOUT = 10.0  # for what a run left in its cgroup to be gone (killed) before the next one


def clear_cgroup(path: str) -> None:
    """KILL whatever a run left in its cgroup and wait until it is gone."""
    members = members_of(path)
    if members is None:
        return
    members.send(signal.SIGKILL)
    members.wait_gone(CLEAR_TIMEOUT)


class Spec:
    """The fields of the recorded StartSpec that the supervisor needs, read as start_options.py
    declares them (a record older than an option holds its default)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.executable: str = data["executable"]
        self.command: list[str] = data["command"]
        self.chdir: str = recorded(data, "chdir")
        self.umask: int = recorded(data, "umask")
        self.stdout: str = data["stdout"]
        self.stderr: str = data["stderr"]
        self.user: str | None = recorded(data, "user")
        self.group: str | None = recorded(data, "group")
        self.nice: int | None = recorded(data, "nice")
        self.forking: bool = recorded(data, "forking")
        self.pid_from: str | None = recorded(data, "pid_from")
        self.ready_timeout: float = recorded(data, "ready_timeout")
        cgroup: str | None = data.get("cgroup")
        self.program_cgroup = f"{cgroup}/{PROGRAM}" if cgroup is not None else None
        self.cgroup_v1: tuple[str, ...] = tuple(data.get("cgroup_v1") or ())
        # What each run joins before its exec: its cgroup, and the v1 ones of its limits.
        self.program_cgroups = (self.program_cgroup, *self.cgroup_v1) if self.program_cgroup is not None else ()
        self.rlimits = for_setrlimit(recorded(data, "limit"))
        self.policy = Policy(
            recorded(data, "respawn") or "on-failure",
            float(recorded(data, "restart_delay")),
            float(recorded(data, "restart_delay_max")),
            float(recorded(data, "min_uptime")),
            recorded(data, "max_restarts"),
        )

    def ooms(self) -> int | None:
        """The program cgroup's count of OOM kills so far (taken before each run)."""
        return oom_kills(self.program_cgroup, self.cgroup_v1) if self.program_cgroup is not None else None


def open_logs(spec: Spec, creds: Credentials | None) -> tuple[int, int]:
    """The logs, opened again by path for every run, so a rotated log is followed.

    By the same rule as at `start` (see safeopen): a log the daemon's user
    replaced by a symlink, a FIFO or a device is refused, not followed. A refusal
    is told in one line on our stderr (the log we were started with) and fails
    this run's start as an OSError, which the policy counts as a quick failure.
    """
    try:
        out, _ = open_log(spec.stdout, "stdout", creds)
        if spec.stderr == spec.stdout:
            return out, out
        try:
            return out, open_log(spec.stderr, "stderr", creds)[0]
        except BaseException:
            os.close(out)
            raise
    except Refused as err:
        tell(f"daemonctl: supervisor: {err}; this run of the program is not started")
        raise OSError(err.errno or errno.EPERM, str(err)) from None


def tell(line: str) -> None:
    """One line of our own in the stderr log (through the writer when we write the logs), if it can be written at all."""
    if _writer is not None:
        _writer.sink.tell(line)
        return
    try:
        os.write(2, (line + "\n").encode("utf-8", "replace"))
    except OSError:
        pass


def credentials(spec: Spec) -> Credentials | None:
    """Whom the program runs as, resolved once to numbers (uid, gid, groups) for every run.

    A user removed from the password database while its daemon runs must not stop
    the supervision: the restarts go on as the numbers it had when we started.
    """
    return pinned(credentials_of(spec.user, spec.group))


def spawn_program(
    spec: Spec, env: dict[str, str], creds: Credentials | None, on_ready: Callable[[int], object] | None = None
) -> tuple[int, bytes]:
    """One run of the program, our child; a run that `on_ready` refuses (the record is no longer
    ours) never execs, and its child is reaped before the refusal is raised."""
    refused: list[int] = []

    def ready(pid: int) -> object:
        try:
            return on_ready(pid) if on_ready is not None else None
        except BaseException:
            refused.append(pid)
            raise

    try:
        return _spawn_program(spec, env, creds, ready)
    finally:
        for pid in refused:  # it exits as it reads the end of its go socket, which spawn_child closed
            _reap(pid)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _spawn_program(
    spec: Spec, env: dict[str, str], creds: Credentials | None, on_ready: Callable[[int], object]
) -> tuple[int, bytes]:
    if _writer is not None:
        launch = Launch(spec.executable, spec.command, env, spec.chdir, spec.umask, _writer.out, _writer.err, creds, spec.nice,
                        cgroups=spec.program_cgroups, rlimits=spec.rlimits)
        pid, report = spawn_child(launch, on_ready=on_ready)
        _writer.sink.set_pid(pid)
        return pid, report
    out, err = open_logs(spec, creds)
    try:
        launch = Launch(spec.executable, spec.command, env, spec.chdir, spec.umask, out, err, creds, spec.nice,
                        cgroups=spec.program_cgroups, rlimits=spec.rlimits)
        return spawn_child(launch, on_ready=on_ready)
    finally:
        os.close(out)
        if err != out:
            os.close(err)


def start_program(
    spec: Spec, env: dict[str, str], creds: Credentials | None, on_ready: Callable[[int], None] | None = None
) -> ProgramChild:
    """One more run of the program; an OSError, told in one line on our stderr (its log), if it cannot start.

    Whatever fails, the supervisor goes on: the policy counts the run as a failed start.
    """
    ooms = spec.ooms()
    try:
        pid, report = spawn_program(spec, env, creds, on_ready)
    except OSError:
        raise  # open_logs told why
    except SpawnError as err:
        tell(f"daemonctl: supervisor: cannot start {spec.executable} ({err.stage}): {err.strerror}")
        raise OSError(err.errno, err.strerror) from None
    except Exception as err:
        tell(f"daemonctl: supervisor: cannot start {spec.executable}: {err}")
        raise OSError(errno.EINVAL, str(err)) from None
    crash_point("supervisor:restarted")
    try:
        parse_report(report)
    except SpawnError as err:
        os.waitpid(pid, 0)
        tell(f"daemonctl: supervisor: cannot start {spec.executable} ({err.stage}): {err.strerror}")
        raise OSError(err.errno, err.strerror) from None
    if spec.forking:
        return adopt_daemon(spec, pid, Rights.of(creds), ooms)
    return ProgramChild(pid, spec=spec, ooms=ooms)


def adopt_daemon(spec: Spec, first: int, rights: Rights | None, ooms: int | None = None) -> ProgramChild:
    """--forking: once the first process (our child) exits 0, the daemon it left (ours as
    subreaper, see proc/adopt); else an OSError, told in one line on our stderr (its log),
    with what it left killed."""
    from daemonctl.proc import adopt
    from daemonctl.proc.pidfd import wait_exit
    from daemonctl.proc.subreaper import describe

    st = read_stat(first)
    member = None
    if spec.program_cgroup is not None:
        from daemonctl.proc.cgroupfs import member_of

        cgroup = spec.program_cgroup
        member = lambda pid: member_of(pid, cgroup)  # noqa: E731 - the run's cgroup: proof it is the program's
    host = adopt.Host(since=st.starttime if st is not None else 0, member=member)  # nothing older is this run's
    deadline = host.clock() + spec.ready_timeout
    if not wait_exit(first, spec.ready_timeout):
        try:
            os.killpg(first, signal.SIGKILL)  # still our unreaped child: its group is its own
        except OSError:
            pass
        os.waitpid(first, 0)
        adopt.kill_left(adopt.left_behind(host))
        return _not_adopted(f"the program did not exit within {spec.ready_timeout:g}s "
                            "(with --forking it must fork into the background and exit)")
    _, status = os.waitpid(first, 0)
    if status != 0:
        adopt.kill_left(adopt.left_behind(host))
        return _not_adopted(f"the program {describe(status)}")
    try:
        if spec.pid_from is None:
            found = adopt.single(host, deadline)
        else:
            found = adopt.named(host, spec.pid_from, lambda: _read_pid_from(spec.pid_from or "", rights), deadline)
    except adopt.NotAdopted as err:
        adopt.kill_left(err.left)
        return _not_adopted(f"the program exited with status 0 but {'its' if spec.pid_from else 'it'} {err.message}")
    return ProgramChild(found.identity.pid, found.pgid, spec, ooms)


def _not_adopted(why: str) -> ProgramChild:
    tell(f"daemonctl: supervisor: {why}; no daemon to adopt")
    raise OSError(errno.ECHILD, why)


def _read_pid_from(path: str, rights: Rights | None) -> int | None:
    from daemonctl.proc.adopt import PidfileUnreadable
    from daemonctl.store import pidfile

    try:
        return pidfile.read(path, rights, first_line=True).pid
    except (pidfile.UnsafePidfile, pidfile.PidfileNotPermitted) as err:
        raise PidfileUnreadable(str(err), final=True) from None
    except pidfile.InvalidPidfile as err:
        raise PidfileUnreadable(str(err)) from None


def iso() -> str:
    # The format of record.iso(), without importing datetime.
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())


class RecordKeeper:
    """Writes the supervisor's news into the record, as long as the record is still ours."""

    def __init__(self, record_path: str, lock_path: str, me: Identity, rights: Rights | None = None) -> None:
        self.record_path, self.lock_path, self.me = record_path, lock_path, me
        self.rights = rights  # the daemon user's, for its pidfile (see safeopen)
        self.write_failed = False

    def locked(self) -> AbstractContextManager[object]:
        return locked(self.lock_path)

    def _mine(self) -> dict[str, Any] | None:
        try:
            data = schema.load(self.record_path)
        except (OSError, schema.Invalid):
            return None  # gone or corrupt: not ours to write, and no restart goes by it
        if data is None or data.get("boot_id") != self.me.boot_id:
            return None
        if (data.get("supervisor_pid"), data.get("supervisor_starttime")) != (self.me.pid, self.me.starttime):
            return None
        return data

    def _update(self, **changes: Any) -> dict[str, Any] | None:
        data = self._mine()
        if data is None:
            return None
        data.update(changes)
        try:
            schema.write(self.record_path, data)
        except schema.Invalid:
            return None  # a restart count or exit this record cannot hold: stop acting on it
        except OSError as err:
            # A full state directory must not end the supervision: the program still
            # needs it. Said once (until a write succeeds again), in the daemon's log.
            if not self.write_failed:
                tell(f"daemonctl: supervisor: cannot write the record {self.record_path}: {err.strerror}; supervising on")
            self.write_failed = True
        else:
            self.write_failed = False
        return data

    def started(self, child: Child, restarts: int) -> bool:
        st = read_stat(child.pid) if child.pid else None
        if st is None:
            return self._update(state=RESTARTING, restarts=restarts) is not None
        pgid = st.pgid if st.pgid != child.pid else None
        changes = {"pid": child.pid, "starttime": st.starttime, "sid": st.sid, "pgid": pgid, "started_at": iso()}
        return self._update(state=RUNNING, restarts=restarts, **changes) is not None

    def ended(self, ending: Ending) -> bool:
        fail_point("supervisor:ended")
        return self._update(state=RESTARTING, last_exit=last_exit(ending)) is not None

    def finish(self, state: str, ending: Ending | None) -> None:
        changes: dict[str, Any] = {"state": state, "stopped_at": iso()}
        if ending is not None:
            changes["last_exit"] = last_exit(ending)
        data = self._update(**changes)
        if data is None:
            return
        # The pidfile goes last: a record that says exited/failed already tells the truth.
        # Never through a symlink, never blocking on a FIFO planted there, and with the
        # daemon user's rights where it can change what the path names (see safeopen).
        path = data["pidfile"]
        try:
            fd = open_read(path, "pidfile", self.rights)
        except (OSError, Refused):
            return
        try:
            if os.read(fd, 64).strip() == str(self.me.pid).encode():
                with acting_as(rights_for(path, self.rights)):
                    os.unlink(path)
        except (OSError, Refused):
            pass
        finally:
            os.close(fd)


def last_exit(ending: Ending) -> dict[str, Any] | None:
    if not ending.known:
        return None  # the record holds a code or a signal, never a guess
    key, value = ("signal", ending.signal) if ending.signal is not None else ("code", ending.code)
    return {key: value, "at": iso(), **({"oom": True} if ending.oom else {})}


# `stop` of a supervisor that writes the logs: restart nothing, touch no record, write the logs
# until the program (which stop ends by its schedule) is gone. A real-time signal: every
# classic one already means something to the supervisor or is forwarded to the program.
DETACH = signal.SIGRTMIN


def _install_signals(sup: Supervisor, wake: int) -> None:
    def on_stop(sig: int, frame: object) -> None:
        sup.request_stop()
        os.write(wake, b"x")

    def on_detach(sig: int, frame: object) -> None:
        sup.detach()
        os.write(wake, b"x")

    signal.signal(DETACH, on_detach)
    def on_forward(sig: int, frame: object) -> None:
        sup.forward(sig)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_stop)
    for sig in (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, on_forward)


def _interruptible_sleep(wake_read: int) -> Callable[[float], None]:
    def sleep(seconds: float) -> None:
        if _writer is not None:
            _writer.sleep(wake_read, seconds)
            return
        select.select([wake_read], [], [], max(seconds, 0.0))

    return sleep


def _read_config() -> dict[str, Any]:
    """The configuration daemonctl wrote on our stdin; stdin is /dev/null afterwards."""
    chunks = []
    while chunk := os.read(0, 1 << 16):
        chunks.append(chunk)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    import json

    config: dict[str, Any] = json.loads(b"".join(chunks))
    return config


def _write_report(report: bytes) -> None:
    """The first run's spawn report to daemonctl; then let go of the pipe (daemonctl reads until EOF)."""
    try:
        os.write(1, report)
    except OSError:
        pass  # daemonctl was killed: the record names us, so supervise all the same
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def main() -> int:
    global _writer
    config = _read_config()
    spec = Spec(config["record"])
    env: dict[str, str] = config["env"]
    me = Identity.of(os.getpid())
    assert me is not None
    wake_read, wake_write = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        creds = credentials(spec)
    except Exception as err:  # daemonctl resolved them a moment ago: the user was removed since
        tell(f"daemonctl: supervisor: {err}")
        _write_report(f"P 0 0\nE {errno.EINVAL} user\n".encode())
        return 127
    keeper = RecordKeeper(config["record_path"], config["lock_path"], me, Rights.of(creds))
    if spec.forking:
        from daemonctl.proc.subreaper import become_subreaper

        become_subreaper()  # what the program orphans is handed to us, to adopt
    if config.get("log") is not None:
        try:
            _writer = LogWriter(config["log"], creds)
        except Exception as err:
            tell(f"daemonctl: supervisor: cannot write the logs: {err}")
            _write_report(f"P 0 0\nE {getattr(err, 'errno', None) or errno.EIO} stdio\n".encode())
            return 127

    def record_restart(pid: int) -> None:
        # A restart is recorded before it may exec, as the first run is (the lock is held):
        # a supervisor killed right after must not leave a program no record names.
        if not keeper.started(ProgramChild(pid), sup.restarts + 1):
            raise OSError(errno.ESTALE, "the record is no longer this supervisor's")

    sup = Supervisor(
        lambda: start_program(spec, env, creds, record_restart), spec.policy, keeper, sleep=_interruptible_sleep(wake_read),
        say=tell,
    )
    _install_signals(sup, wake_write)
    ooms = spec.ooms()
    try:
        # Recorded before it may exec (and before daemonctl hears of it), so that a
        # daemonctl killed now, or a stop that kills us, still finds the program in the
        # record. Without the lock: daemonctl holds it while it waits for this report,
        # and writes nothing until it has read it.
        pid, report = spawn_program(spec, env, creds, on_ready=lambda pid: keeper.started(ProgramChild(pid), 0))
    except OSError as err:
        pid, report = 0, f"P 0 0\nE {err.errno or 0} stdio\n".encode()
    except SpawnError as err:
        pid, report = 0, f"P 0 0\nE {err.errno} {err.stage}\n".encode()
    crash_point("supervisor:spawned")
    child = ProgramChild(pid, spec=spec, ooms=ooms)
    if spec.forking and pid and b"\nE " not in b"\n" + report:
        # daemonctl waits for this report: it learns the adopted daemon, or why there is none.
        try:
            child = adopt_daemon(spec, pid, keeper.rights, ooms)
        except OSError as err:
            pid, report = 0, f"P 0 0\nE {err.errno or 0} adopt\n".encode()
        else:
            keeper.started(child, 0)
            st = read_stat(child.pid)
            report = f"P {child.pid} {st.starttime if st else 0}\nR\n".encode()
    _write_report(report)
    try:
        parse_report(report)
    except SpawnError:
        if pid:
            os.waitpid(pid, 0)
        if _writer is not None:
            _writer.finish()
        return 127
    sup.run(child)
    if _writer is not None:
        _writer.finish()
    return 0


if __name__ == "__main__":  # pragma: no cover - the resident process
    raise SystemExit(main())
