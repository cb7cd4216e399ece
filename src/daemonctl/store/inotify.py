"""Waking up when a file or its directory changes: Linux inotify through libc, or a short poll."""

from __future__ import annotations

import ctypes
import os
import select
import time
from collections.abc import Callable

IN_MODIFY = 0x002
IN_ATTRIB = 0x004
IN_CLOSE_WRITE = 0x008
IN_MOVED_FROM = 0x040
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_DONT_FOLLOW = 0x02000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC

# The directory's watch reports writes to, truncation of, and renames and creations of
# its entries; the file's own watch still reports writes once the file was moved elsewhere.
DIR_EVENTS = (
    IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF
)
FILE_EVENTS = IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVE_SELF | IN_DELETE_SELF | IN_DONT_FOLLOW

POLL_INTERVAL = 0.1  # where inotify is unavailable
SAFETY_INTERVAL = 1.0  # with inotify, look anyway once in a while (a file system that sends no events)


class Waiter:
    """`wait()` returns once something may have changed: an inotify event, or a timeout."""

    def __init__(self, directory: str, sleep: Callable[[float], None] = time.sleep) -> None:
        self.sleep = sleep
        self.fd: int | None = None
        self.file_wd: int | None = None
        libc = _libc()
        if libc is None:
            return
        fd: int = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            return
        if libc.inotify_add_watch(fd, os.fsencode(directory), DIR_EVENTS) < 0:
            os.close(fd)
            return
        self.libc, self.fd = libc, fd

    @property
    def active(self) -> bool:
        return self.fd is not None

    def watch_file(self, path: str) -> None:
        """Also watch the file now at `path` (the previous one is forgotten)."""
        if self.fd is None:
            return
        if self.file_wd is not None:
            self.libc.inotify_rm_watch(self.fd, self.file_wd)  # fails harmlessly if already gone
        wd: int = self.libc.inotify_add_watch(self.fd, os.fsencode(path), FILE_EVENTS)
        self.file_wd = wd if wd >= 0 else None

    def pending(self) -> bool:
        """Whether an event is waiting to be read (never blocks)."""
        if self.fd is None:
            return False
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        return bool(poller.poll(0))

    def wait(self) -> None:
        if self.fd is None:
            self.sleep(POLL_INTERVAL)
            return
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        if poller.poll(SAFETY_INTERVAL * 1000):
            drain(self.fd)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)  # the symbols of the running process, libc's among them
        libc.inotify_init1.argtypes = [ctypes.c_int]
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        libc.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
    except (OSError, AttributeError):
        return None
    return libc


def drain(fd: int) -> None:
    """Read a non-blocking descriptor's pending events, all of them, and forget them."""
    while True:
        try:
            if not os.read(fd, 65536):
                return
        except BlockingIOError:
            return
