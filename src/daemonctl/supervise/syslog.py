"""Sending the program's lines to the local syslog daemon (`--syslog[=FACILITY]`).

One datagram per line on the unix socket /dev/log, framed as the C library's
syslog(3) frames it for the local socket (RFC 3164 without the host name, which
rsyslog, syslog-ng and journald all take): `<PRI>Mmm dd hh:mm:ss NAME[PID]: line`.
stdout lines go at `info`, stderr lines at `err`.

Never blocks the program for long: a send waits at most SEND_TIMEOUT for a busy
syslog daemon, and after one such wait sends without waiting (dropping what does
not fit) until a send goes through again. With no syslog daemon listening, the
lines are dropped and the socket is tried again once a second. What was
dropped is said once the socket takes lines again, by one `daemonctl:` line at
`err`.

From the C module `_socket`: socket.py would cost the resident writer its
enum classes and more (see tests/unit/test_supervisor_lean.py).
"""

from __future__ import annotations

import _socket
import time
from collections.abc import Callable

from daemonctl.limits import SYSLOG_FACILITIES

DEV_LOG = "/dev/log"
SEND_TIMEOUT = 1.0
RETRY = 1.0  # seconds between attempts to reach a syslog daemon that is not there
INFO, ERR = 6, 3
FACILITIES = SYSLOG_FACILITIES


def header(facility: int, severity: int, when: float, tag: str, pid: int) -> bytes:
    """`<PRI>Mmm dd hh:mm:ss TAG[PID]: ` in local time (the day padded with a space, as RFC 3164 says)."""
    stamp = time.strftime("%b %e %H:%M:%S", time.localtime(when))
    return f"<{facility * 8 + severity}>{stamp} {tag}[{pid}]: ".encode("ascii", "replace")


def messages(lines: bytes, head: bytes) -> list[bytes]:
    """One datagram per line of `lines` (whole lines), without its newline."""
    return [head + line for line in lines[:-1].split(b"\n")] if lines else []


class Syslog:
    """A connection to the syslog socket that drops rather than blocks, and says what it dropped."""

    def __init__(
        self,
        facility: int,
        tag: str,
        path: str = DEV_LOG,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        connect: Callable[[str], _socket.socket] | None = None,
    ) -> None:
        self.facility, self.tag, self.path = facility, tag, path
        self.clock, self.wall = clock, wall
        self.connect = connect or _connect
        self.pid = 0
        self.sock: _socket.socket | None = None
        self.next_try = 0.0
        self.hurried = False  # a send timed out: send without waiting until one goes through
        self.dropped = 0
        self.dropped_why = ""

    def send(self, lines: bytes, severity: int) -> None:
        """Every line of `lines` (whole lines) as a message at `severity`."""
        if not lines:
            return
        head = header(self.facility, severity, self.wall(), self.tag, self.pid)
        batch = messages(lines, head)
        for k, message in enumerate(batch):
            if not self._send(message):
                self.dropped += len(batch) - k - 1
                return

    def _send(self, message: bytes) -> bool:
        """Send one message; False (it and the caller's rest dropped, counted) when the socket does not take it."""
        sock = self._socket()
        if sock is None:
            self.dropped += 1
            return False
        if self.dropped and not self._say_dropped(sock):
            self.dropped += 1
            return False
        return self._out(sock, message)

    def _out(self, sock: _socket.socket, message: bytes) -> bool:
        try:
            sock.send(message)
        except TimeoutError:
            self.hurried = True
            sock.settimeout(0.0)
            return self._lost("the syslog daemon did not take the lines in time")
        except BlockingIOError:
            return self._lost("the syslog daemon did not take the lines in time")
        except OSError as err:
            # Its socket was replaced (the daemon restarted) or is gone: connect again, later.
            self._close()
            self.next_try = self.clock() + RETRY
            return self._lost(f"cannot send to {self.path}: {err.strerror or err}")
        if self.hurried:
            self.hurried = False
            sock.settimeout(SEND_TIMEOUT)
        return True

    def _lost(self, why: str) -> bool:
        self.dropped += 1
        self.dropped_why = why
        return False

    def _say_dropped(self, sock: _socket.socket) -> bool:
        count = self.dropped
        notice = (f"daemonctl: log writer: dropped {count} line{'s' if count != 1 else ''} "
                  f"not sent to syslog: {self.dropped_why}")
        head = header(self.facility, ERR, self.wall(), self.tag, self.pid)
        self.dropped = 0
        if self._out(sock, head + notice.encode("utf-8", "replace")):
            return True
        self.dropped += count - 1  # _out counted the notice itself as one more line lost
        return False

    def _socket(self) -> _socket.socket | None:
        if self.sock is not None:
            return self.sock
        if self.clock() < self.next_try:
            return None
        try:
            self.sock = self.connect(self.path)
        except OSError as err:
            self.next_try = self.clock() + RETRY
            self.dropped_why = f"cannot connect to {self.path}: {err.strerror or err}"
            return None
        self.sock.settimeout(SEND_TIMEOUT)
        self.hurried = False
        return self.sock

    def _close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def close(self) -> None:
        if self.dropped:
            sock = self._socket()
            if sock is not None:
                self._say_dropped(sock)
        self._close()


def _connect(path: str) -> _socket.socket:
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM | _socket.SOCK_CLOEXEC)
    try:
        sock.connect(path)
    except BaseException:
        sock.close()
        raise
    return sock
