"""A daemon's log for the API: its last lines, and following it as server-sent events.

The files are opened as `logs` opens them (store/logread.py: no symlink, no FIFO, the
daemon user's rights), and followed across rotation by the same Follower.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from collections.abc import Callable

from daemonctl.errors import DaemonctlError
from daemonctl.store import logread
from daemonctl.store.logread import Follower, Source, strict_opener

MAX_LINES = 10000
MAX_BYTES = 4 << 20  # of the last lines of a log sent at once: a log of very long lines is cut at its start
MAX_LINE = 65536  # a line without its end is sent in pieces of this size, as the log writer writes it
HEARTBEAT = 15.0  # seconds of silence before a comment line that finds a client gone


def decode(data: bytes) -> list[str]:
    """Lines of UTF-8 text, the undecodable bytes replaced; a last line without its newline counts."""
    return [line.rstrip("\r") for line in data.decode("utf-8", "replace").split("\n")]


def tail(source: Source, lines: int) -> tuple[list[str], int | None, int]:
    """The last `lines` lines, as `logs -n` reads them (reaching back into the rotated files, plain
    or compressed); the open file they end in (None without one) and where they end there."""
    chunks: list[bytes] = []
    fd, end, _, _ = logread.tail(source, lines, chunks.append, MAX_BYTES)
    text = b"".join(chunks)
    return (decode(text.removesuffix(b"\n")) if text else []), fd, end


def event(line: str) -> bytes:
    """One server-sent event holding one line (an event's data holds no line break)."""
    return b"data: " + line.encode("utf-8") + b"\n\n"


def client_gone(conn: socket.socket) -> bool:
    """The client closed its end (a stream's client sends nothing after its request)."""
    poller = select.poll()
    poller.register(conn, select.POLLIN | select.POLLRDHUP | select.POLLHUP | select.POLLERR)
    for _, mask in poller.poll(0):
        if mask & (select.POLLRDHUP | select.POLLHUP | select.POLLERR):
            return True
        try:
            if conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
                return True
        except BlockingIOError:
            return False
        except OSError:
            return True
    return False


class Lines:
    """Bytes in, whole lines out; a line longer than MAX_LINE comes out in pieces."""

    def __init__(self) -> None:
        self.partial = b""

    def feed(self, data: bytes) -> list[str]:
        buf = self.partial + data
        *whole, self.partial = buf.split(b"\n")
        out = [line for chunk in whole for line in _pieces(chunk)]
        while len(self.partial) >= MAX_LINE:
            out.append(_text(self.partial[:MAX_LINE]))
            self.partial = self.partial[MAX_LINE:]
        return out


def _pieces(line: bytes) -> list[str]:
    return [_text(line[i:i + MAX_LINE]) for i in range(0, max(len(line), 1), MAX_LINE)]


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace").rstrip("\r")


def follow(
    source: Source,
    first: list[str],
    fd: int | None,
    end: int,
    conn: socket.socket,
    write: Callable[[bytes], object],
    stopping: threading.Event,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Send `first` (the last lines, from `tail`), then each new line, until the client leaves or the server stops.

    A log that can no longer be read (replaced by a symlink, say) ends the stream with an `error` event.
    """
    from daemonctl.store.inotify import Waiter

    waiter = Waiter(os.path.dirname(source.path) or ".")
    follower = Follower(source.path, opener=strict_opener(source.rights), fd=fd, position=end, on_open=waiter.watch_file)
    try:
        write(b"retry: 2000\n\n" + b"".join(event(line) for line in first))
        splitter, quiet_since = Lines(), clock()
        while not stopping.is_set() and not client_gone(conn):
            try:
                data = follower.read()
            except DaemonctlError as err:
                write(b"event: error\n" + event(err.message))
                return
            if data:
                complete = splitter.feed(data)
                if complete:
                    write(b"".join(event(line) for line in complete))
                    quiet_since = clock()
                continue
            if clock() - quiet_since >= HEARTBEAT:
                write(b": still here\n\n")
                quiet_since = clock()
            waiter.wait()
    finally:
        follower.close()
        waiter.close()
