"""Turn a command into a detached daemon: double fork, new session, clean exec.

The caller learns whether the exec succeeded through a close-on-exec socket.
The intermediate writes the grandchild's PID and start time ("P") as soon as it
has forked it. The grandchild sets itself up, says it is ready ("R") and waits
for "go" before it execs (the socket closes with nothing more), or writes the
errno and stage that failed ("E"). The wait for "go" lets the caller record the
PID first: if the caller dies before that, the grandchild reads end-of-file and
exits without ever running the program, so a killed daemonctl never leaves a
daemon that no pidfile or record knows of.

The caller records the PID while the grandchild is still setting itself up:
the two run side by side, and a setup that fails after that is undone by the
caller like any failed exec.
"""

# The C module: socket.py would bring selectors and array (see _socket_pair).
import _socket
import errno as errno_mod
import fcntl
import os
import sys
from collections.abc import Callable

from daemonctl.proc.cgroupfs import write
from daemonctl.proc.privileges import Credentials, drop_privileges, set_nice
from daemonctl.proc.procfs import Identity, boot_id, read_stat
from daemonctl.proc.sigreset import reset_reserved
from daemonctl.speedups import NamedTuple

# Descriptors the grandchild keeps while it sets itself up are moved above this,
# so that a caller that had 0, 1 or 2 closed cannot make them collide.
HIGH_FD = 10
NOT_FOUND_ERRNOS = {errno_mod.ENOENT, errno_mod.EACCES, errno_mod.ENOEXEC, errno_mod.ENOTDIR, errno_mod.ELOOP, errno_mod.EISDIR}


class Launch(NamedTuple):
    executable: str
    argv: list[str]
    env: dict[str, str]
    chdir: str
    umask: int
    stdout_fd: int
    stderr_fd: int
    credentials: Credentials | None = None  # whom to run as (root only)
    nice: int | None = None
    stdin_fd: int | None = None  # /dev/null when None
    pass_fds: tuple[int, ...] = ()  # kept open in the program as 3, 4, ... (the log writer's pipes)
    cgroups: tuple[str, ...] = ()  # the cgroups it joins first (see containment)
    rlimits: tuple[tuple[str, int, int], ...] = ()  # (resource, soft, hard) for setrlimit, see rlimits


class SpawnError(Exception):
    def __init__(self, stage: str, err: int) -> None:
        self.stage = stage
        self.errno = err
        self.strerror = os.strerror(err) if err else "unknown error"
        super().__init__(f"{stage}: {self.strerror}")

    @property
    def not_found(self) -> bool:
        return self.stage == "exec" and self.errno in NOT_FOUND_ERRNOS


def _clone_into(cgroup: str) -> int | None:  # pragma: no cover - runs in the intermediate
    from daemonctl.proc.clone_into import clone_into

    return clone_into(cgroup)


def spawn(
    launch: Launch,
    fork: Callable[[], int] = os.fork,
    on_ready: Callable[[Identity], None] | None = None,
    clone: Callable[[str], int | None] = _clone_into,
    meanwhile: Callable[[], object] | None = None,
) -> Identity:
    """Start `launch` as a daemon; its identity once its exec succeeded, else SpawnError.

    `on_ready(identity)` runs once the grandchild's PID is known, before it may
    exec (it may still be setting itself up); if it raises, the grandchild exits
    without exec'ing and the error propagates. If the setup fails after
    `on_ready`, the SpawnError says so and the caller undoes what it did.
    `clone(cgroup)` makes the grandchild in its v2 cgroup when it can (None: it
    cannot, and `fork` makes it, which then joins the cgroup itself).
    `meanwhile()` runs right after the fork, while the intermediate makes the
    grandchild: the caller's own work that would otherwise wait for it. If it
    raises, the grandchild exits without exec'ing and the error propagates.
    """
    # Anything buffered would otherwise be written once by each process.
    sys.stdout.flush()
    sys.stderr.flush()
    child, read_end = _fork(lambda end: _intermediate(launch, end, fork, clone), fork)

    def announced(lines: bytes) -> None:
        identity = parse_report(lines)  # a SpawnError if the grandchild failed already
        if on_ready is not None:
            on_ready(identity)

    try:
        if meanwhile is not None:
            meanwhile()
        report = _read_until_ready(read_end, announced)
        os.waitpid(child, 0)
        child = 0
        if _has_line(report, b"R") and _send_go(read_end):
            report += _read_all(read_end)
        else:
            report += KILLED  # unless the report says why first: it never got ready
    finally:
        os.close(read_end)
        if child:
            os.waitpid(child, 0)
    return parse_report(report)


def spawn_child(
    launch: Launch, fork: Callable[[], int] = os.fork, on_ready: Callable[[int], object] | None = None
) -> tuple[int, bytes]:
    """Start `launch` as our own child, with the daemon's hygiene but no new session.

    For the supervisor, whose program must stay its child. Returns the child's PID
    and its raw report, for `parse_report`; the caller reaps the child.
    `on_ready(pid)` runs once the child is set up, before it may exec.
    """
    child, read_end = _fork(lambda end: _grandchild(launch, end), fork)
    try:
        report = _read_until_ready(read_end)
        if _has_line(report, b"R"):
            if on_ready is not None:
                on_ready(child)
            _send_go(read_end)
        return child, report + _read_all(read_end)
    finally:
        os.close(read_end)


def _fork(in_child: Callable[[int], None], fork: Callable[[], int]) -> tuple[int, int]:
    """Fork with a report socket: the child runs `in_child(its end)` and never returns;
    the parent gets the child's PID and its own end."""
    read_end, write_end = _socket_pair()
    try:
        child = fork()
    except OSError as err:
        os.close(read_end)
        os.close(write_end)
        raise SpawnError("fork", err.errno or 0) from err
    if child == 0:  # pragma: no cover - runs in the forked child
        os.close(read_end)
        in_child(write_end)
    os.close(write_end)
    return child, read_end


def _socket_pair() -> tuple[int, int]:
    """Two connected, close-on-exec stream sockets, as bare fds.

    From the C module: socket.py would bring selectors and array into the
    resident supervisor, which spawns through this module too.
    """
    a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    return a.detach(), b.detach()


def _read_until_ready(fd: int, on_pid: Callable[[bytes], None] | None = None) -> bytes:
    """The report until the grandchild's "R" line, or all of it if it fails first.

    With `on_pid`, also until the "P" line, and `on_pid(complete lines)` runs as
    soon as that is in. spawn's P line comes from the intermediate and R from the
    grandchild: two writers, so either may arrive first.
    """
    report = b""
    pending = on_pid
    while True:
        lines = report[: report.rfind(b"\n") + 1]
        if pending is not None and (lines.startswith(b"P ") or b"\nP " in lines):
            call, pending = pending, None
            call(lines)
        if pending is None and _has_line(lines, b"R"):
            return report
        chunk = _read(fd)
        if not chunk:
            return report
        report += chunk


def _has_line(report: bytes, line: bytes) -> bool:
    return report.startswith(line + b"\n") or b"\n" + line + b"\n" in report


def _send_go(fd: int) -> bool:
    """False when the grandchild is gone already (killed, or failed: its report says why)."""
    try:
        os.write(fd, b"G")
        return True
    except OSError:
        return False


def parse_report(report: bytes) -> Identity:
    """Decode a report: 'P pid starttime', maybe 'E errno stage' (and 'R', which says nothing here)."""
    identity = None
    for line in report.decode("ascii", "replace").splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "E":
            err, _, stage = rest.partition(" ")
            raise SpawnError(stage or "exec", int(err) if err.isdigit() else 0)
        if kind == "P" and rest:
            pid, starttime = rest.split()
            identity = Identity(int(pid), int(starttime), boot_id())
    if identity is None:
        raise SpawnError("fork", 0)
    return identity


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := _read(fd):
        chunks.append(chunk)
    return b"".join(chunks)


# What a reset report socket means: the grandchild died with our "go" unread (a
# `signal NAME KILL` can reach it once its PID is recorded), so it never exec'd.
KILLED = b"\nE 0 killed\n"


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 4096)
    except ConnectionResetError:
        return KILLED


Clone = Callable[[str], "int | None"]


def _intermediate(launch: Launch, pipe: int, fork: Callable[[], int], clone: Clone) -> None:  # pragma: no cover
    """First child: new session, fork again, exit. Never returns."""
    try:
        os.setsid()
        # The second fork leaves the daemon in the new session without being its
        # leader, so opening a terminal can never make it the controlling one.
        grandchild, joined = fork_grandchild(launch.cgroups, fork, clone)
        if grandchild == 0:
            _grandchild(launch, pipe, announce=False, joined=joined)
        # Announced from here, the PID reaches the caller while the grandchild is
        # still starting up: its commit and the grandchild's setup overlap.
        _announce(pipe, grandchild)
    except OSError as err:
        _report(pipe, f"E {err.errno or 0} fork\n")
    finally:
        os._exit(0)


def fork_grandchild(
    cgroups: tuple[str, ...], fork: Callable[[], int], clone: Callable[[str], int | None]
) -> tuple[int, int]:
    """The grandchild's PID (0 in the grandchild), and how many of `cgroups` it was born in.

    Born in the first (the v2 one) when `clone` can do it: a write to cgroup.procs
    costs a start 6 to 20 ms here (see clone_into); else it joins them all itself.
    """
    if cgroups:
        pid = clone(cgroups[0])
        if pid is not None:
            return pid, 1
    return fork(), 0


def _announce(pipe: int, pid: int) -> None:  # pragma: no cover
    st = read_stat(pid)
    _report(pipe, f"P {pid} {st.starttime if st else 0}\n")


def _grandchild(launch: Launch, pipe: int, announce: bool = True, joined: int = 0) -> None:  # pragma: no cover
    """The daemon-to-be: set up the process, then exec. Never returns."""
    stage = "cgroup"
    try:
        # First of all: whatever it does from here on, stop finds it in its cgroup.
        for path in launch.cgroups[joined:]:
            write(f"{path}/cgroup.procs", "0")
        stage = "setpgid"
        # After the double fork we sit in the dead intermediate's group: lead our own,
        # so that stop can signal everything the program starts.
        os.setpgid(0, 0)
        if announce:
            _announce(pipe, os.getpid())
        pipe = _high(pipe)
        os.umask(launch.umask)
        stage = "stdio"
        passed = [_high(fd) for fd in launch.pass_fds]  # before stdio's dup2 can overwrite one
        _setup_stdio(launch)
        for target, source in enumerate(passed, 3):
            os.dup2(source, target, inheritable=True)
        stage = "signals"
        _reset_signals()
        _close_fds(keep={pipe, *range(3, 3 + len(passed))})
        stage = "nice"
        set_nice(launch.nice)
        for name, soft, hard in launch.rlimits:
            stage = f"limit {name}"  # before dropping privileges: only root may raise a hard limit
            _setrlimit(name, soft, hard)
        stage = "user"
        drop_privileges(launch.credentials)
        # With the program's own rights: a --chdir its user can change (a symlink into
        # a place only root may reach) is never entered with root's.
        stage = "chdir"
        os.chdir(launch.chdir)
        _await_go(pipe)
        stage = "exec"
        os.execve(launch.executable, launch.argv, launch.env)
    except OSError as err:
        _report(pipe, f"E {err.errno or 0} {stage}\n")
    except BaseException:
        _report(pipe, f"E 0 {stage}\n")
    os._exit(127)


def _await_go(sock: int) -> None:  # pragma: no cover
    _report(sock, "R\n")
    if os.read(sock, 1) != b"G":
        os._exit(0)  # daemonctl died before it recorded us: never run the program


def _high(fd: int) -> int:
    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, HIGH_FD)


def _setup_stdio(launch: Launch) -> None:  # pragma: no cover
    if launch.stdin_fd is None:
        stdin = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    else:
        stdin = launch.stdin_fd
    sources = [_high(stdin), _high(launch.stdout_fd), _high(launch.stderr_fd)]
    for target, source in enumerate(sources):
        os.dup2(source, target, inheritable=True)


def _setrlimit(name: str, soft: int, hard: int) -> None:  # pragma: no cover - in the grandchild, with --limit
    from resource import setrlimit

    from daemonctl.proc.rlimits import NUMBERS

    setrlimit(NUMBERS[name], (soft, hard))


def _reset_signals() -> None:  # pragma: no cover
    # Imported here, in the grandchild: the caller never needs signal.py (its enums, 0.4 ms),
    # and the grandchild sets itself up while the caller commits the record.
    import signal

    # exec keeps ignored dispositions and the blocked mask: Python itself ignores
    # SIGPIPE and SIGXFSZ, and a caller such as nohup ignores SIGHUP.
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            pass  # signals reserved by the C library
    reset_reserved()
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


def _close_fds(keep: set[int]) -> None:  # pragma: no cover
    for entry in os.listdir("/proc/self/fd"):
        fd = int(entry)
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def _report(pipe: int, message: str) -> None:  # pragma: no cover
    try:
        os.write(pipe, message.encode("ascii"))
    except OSError:
        pass
