"""Readiness: `start` returns once the daemon is ready, not merely forked.

Four checks (a file exists, a TCP port accepts, a new log line matches, the
program says READY=1 over $NOTIFY_SOCKET), all of which must pass before the
deadline. Checks are armed before the program starts (a log line written at
once, a datagram sent at once, must not be missed), then polled by `wait_ready`,
whose clock and "has it ended?" are injected.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import socket
import tempfile
import time
from collections.abc import Callable

from daemonctl.proc.pidfd import open_verified
from daemonctl.proc.procfs import Identity
from daemonctl.proc.subreaper import describe
from daemonctl.speedups import Protocol
from daemonctl.store.logread import Follower
from daemonctl.store.record import StartSpec
from daemonctl.store.safeopen import Refused, Rights, acting_as, open_read, rights_for

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daemonctl.progress import Progress

POLL_INTERVAL = 0.05  # between checks of the file, the port and the logs
CONNECT_TIMEOUT = 0.5


class NotReady(Exception):
    """Why the daemon did not become ready."""


class Deadline:
    def __init__(self, at: float) -> None:
        self.at = at

    def extend(self, until: float) -> None:
        self.at = max(self.at, until)


class Check(Protocol):
    what: str  # what is awaited, for the timeout message

    def poll(self, now: float, deadline: Deadline) -> bool: ...

    def close(self) -> None: ...


def parse_port(text: str) -> tuple[str, int]:
    """`[HOST:]PORT` (HOST may be `[::1]`) as (host, port); ValueError when malformed."""
    from daemonctl.store.checks import split_port  # the record's check of ready_port is the same

    return split_port(text)


class FileCheck:
    """PATH exists: any entry at PATH counts, a symbolic link too, which is never followed.

    The entry is the program's own doing, whatever it points at; following it as root
    would tell the daemon's user (who sees whether start waited) what exists in places
    only root may look. Where that user can change what PATH names (see safeopen), it
    is looked at with that user's rights.
    """

    def __init__(self, path: str, rights: Rights | None = None) -> None:
        self.path, self.rights = path, rights
        self.what = f"{path} to exist"

    def poll(self, now: float, deadline: Deadline) -> bool:
        try:
            with acting_as(rights_for(self.path, self.rights)):
                os.lstat(self.path)
        except OSError:
            return False  # missing, or not the user's to see: not ready (yet)
        except Refused as err:
            raise NotReady(err.message) from None
        return True

    def close(self) -> None:
        pass


class PortCheck:
    def __init__(self, address: str) -> None:
        self.host, self.port = parse_port(address)
        self.what = f"a connection to {self.host} port {self.port}"

    def poll(self, now: float, deadline: Deadline) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=CONNECT_TIMEOUT):
                return True
        except OSError:
            return False

    def close(self) -> None:
        pass


class LogCheck:
    """A new complete line of any of the logs matches the pattern."""

    def __init__(self, pattern: str, paths: list[str], rights: Rights | None = None) -> None:
        self.regex = re.compile(pattern)
        self.what = f"a log line matching {pattern!r}"
        self.followers = [Follower(p, opener=_log_opener(rights)) for p in dict.fromkeys(paths)]
        self.partial = [b""] * len(self.followers)

    def poll(self, now: float, deadline: Deadline) -> bool:
        found = False
        for i, follower in enumerate(self.followers):
            *lines, self.partial[i] = (self.partial[i] + follower.read()).split(b"\n")
            found = found or any(self.regex.search(line.decode("utf-8", "replace")) for line in lines)
        return found

    def close(self) -> None:
        for follower in self.followers:
            follower.close()


def _log_opener(rights: Rights | None) -> Callable[[str], int | None]:
    """Opens a log by safeopen's rules, with the daemon user's rights where it can change
    the path; a file refused counts as no file (not ready yet)."""

    def opener(path: str) -> int | None:
        try:
            return open_read(path, "log", rights)
        except (OSError, Refused):
            return None

    return opener


class NotifyCheck:
    """The sd_notify protocol: a datagram socket whose path the program gets as $NOTIFY_SOCKET."""

    what = "READY=1 on $NOTIFY_SOCKET"

    def __init__(self, owner: tuple[int, int] | None = None) -> None:
        # A private directory: only we (and root) can send to the socket in it,
        # and its path stays short enough for a socket address. For a program
        # that runs as another user (`owner`: its uid and gid), the directory
        # stays ours but may be passed through (0711), and the socket is that
        # user's, mode 0600: sending needs write permission on it, which no
        # other user has.
        self.directory = tempfile.mkdtemp(prefix="daemonctl-")
        self.path = os.path.join(self.directory, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK)
        try:
            self.sock.bind(self.path)
            if owner is not None:
                os.chmod(self.path, 0o600)
                os.chown(self.path, *owner)
                os.chmod(self.directory, 0o711)
        except BaseException:
            self.close()
            raise

    def fileno(self) -> int:
        return self.sock.fileno()

    def poll(self, now: float, deadline: Deadline) -> bool:
        ready = False
        while True:
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                return ready
            ready = apply_notify(data.decode("utf-8", "replace"), now, deadline) or ready

    def close(self) -> None:
        self.sock.close()
        shutil.rmtree(self.directory, ignore_errors=True)


def apply_notify(message: str, now: float, deadline: Deadline) -> bool:
    """One sd_notify datagram: True for READY=1; NotReady for ERRNO=; extends for EXTEND_TIMEOUT_USEC=."""
    ready = False
    for line in message.splitlines():
        key, _, value = line.partition("=")
        if key == "READY" and value == "1":
            ready = True
        elif key == "ERRNO":
            detail = os.strerror(int(value)) if value.isdigit() else "unknown error"
            raise NotReady(f"reported ERRNO={value} ({detail})")
        elif key == "EXTEND_TIMEOUT_USEC" and value.isdigit():
            deadline.extend(now + int(value) / 1e6)
    return ready


def wait_ready(
    checks: list[Check],
    timeout: float,
    ended: Callable[[float], str | None],
    clock: Callable[[], float] = time.monotonic,
    progress: Progress | None = None,
) -> None:
    """Return once every check passes; NotReady if the program ends or time runs out first.

    `ended(seconds)` waits up to `seconds` (less if something happens) and says how
    the program ended, or None while it runs. `progress` hears of each round.
    """
    began = clock()
    deadline = Deadline(began + timeout)
    pending = list(checks)
    while True:
        now = clock()
        pending = [c for c in pending if not c.poll(now, deadline)]
        if not pending:
            return
        if progress is not None:
            from daemonctl.progress import Readying

            progress(Readying(tuple(c.what for c in pending), now - began, deadline.at - began))
        why = ended(0)
        if why is not None:
            raise NotReady(f"{why} before it was ready")
        remaining = deadline.at - clock()
        if remaining <= 0:
            raise NotReady(f"was not ready within {timeout:g}s (waited for {' and '.join(c.what for c in pending)})")
        why = ended(min(remaining, POLL_INTERVAL))
        if why is not None:
            pending = [c for c in pending if not c.poll(clock(), deadline)]
            if not pending:
                return  # ready, and then ended: that is for supervision or status to tell
            raise NotReady(f"{why} before it was ready")


def open_checks(spec: StartSpec) -> tuple[list[Check], dict[str, str]]:
    """The checks `spec` asks for, armed now; and what to add to the program's environment."""
    checks: list[Check] = []
    env: dict[str, str] = {}
    rights = _rights(spec) if spec.ready_file or spec.ready_log else None
    try:
        if spec.ready_file:
            checks.append(FileCheck(spec.ready_file, rights))
        if spec.ready_port:
            checks.append(PortCheck(spec.ready_port))
        if spec.ready_log:
            checks.append(LogCheck(spec.ready_log, [spec.stdout, spec.stderr], rights))
        if spec.notify:
            notify = NotifyCheck(_notify_owner(spec))
            checks.append(notify)
            env["NOTIFY_SOCKET"] = notify.path
    except BaseException:
        close_all(checks)
        raise
    return checks, env


def _rights(spec: StartSpec) -> Rights | None:
    """The daemon user's rights, for what its user may change (see safeopen); None: ours."""
    from daemonctl.proc.privileges import credentials_of

    return Rights.of(credentials_of(spec.user, spec.group))


def _notify_owner(spec: StartSpec) -> tuple[int, int] | None:
    """The uid and gid the program sends its notifications as, when that is not us."""
    from daemonctl.proc.privileges import credentials_of

    creds = credentials_of(spec.user, spec.group)
    if creds is None or os.geteuid() != 0 or creds.uid == 0:
        return None  # root may send to any socket
    return creds.uid, creds.gid


def close_all(checks: list[Check]) -> None:
    for check in checks:
        check.close()


class ProcessWatch:
    """`ended` for real processes: pidfds of the program and its supervisor, and a notify socket."""

    def __init__(self, program: Identity, supervisor: Identity | None, checks: list[Check]) -> None:
        self.program = program
        self.fds: dict[int, str] = {}
        self.wake = [c.fileno() for c in checks if isinstance(c, NotifyCheck)]
        for identity, what in ((program, "program"), (supervisor, "supervisor")):
            if identity is not None:
                fd = open_verified(identity)
                self.fds[fd if fd is not None else -1] = what

    def __call__(self, seconds: float) -> str | None:
        if -1 in self.fds:
            return self._why(self.fds[-1])
        poller = select.poll()
        for fd in [*self.fds, *self.wake]:
            poller.register(fd, select.POLLIN)
        for fd, _ in poller.poll(max(seconds, 0.0) * 1000.0):
            if fd in self.fds:
                return self._why(self.fds[fd])
        return None

    def _why(self, what: str) -> str:
        if what == "supervisor":
            return "its supervisor ended"
        try:
            pid, status = os.waitpid(self.program.pid, os.WNOHANG)
        except ChildProcessError:
            return "ended"
        return describe(status) if pid else "ended"

    def close(self) -> None:
        for fd in self.fds:
            if fd >= 0:
                os.close(fd)
        self.fds = {}
