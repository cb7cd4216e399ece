"""The lock a daemon's log writer holds while it writes the logs (STATE_DIR/NAME.writer.lock).

One writer per daemon at a time: a writer still writing the last lines of a stopped run
and the writer of the next run never rotate the same files at once, and `stop` returns
only once the last lines are written. The lock is taken by `start` before the program
can write a line, and handed to the writer with its descriptor (a flock belongs to the
open file, which the writer inherits), so there is no moment at which a started daemon's
writer does not hold it yet.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from collections.abc import Callable

from daemonctl.store.lock import is_current

LOCK_WAIT = 10.0  # seconds a previous writer may take to finish before the next one writes alongside it
DRAIN_WAIT = 6.0  # how long stop waits for the writer to write the last lines (the writer gives up after 5 s)


def hold_lock(path: str, wait: float = LOCK_WAIT, sleep: Callable[[float], None] = time.sleep) -> int:
    """An fd holding the writer's lock of a daemon, waited for while a previous writer drains.

    Never for more than `wait`: a previous writer kept alive by something its program left
    running (holding the old pipes) must not block the new program once its pipes are full.
    Past that, the fd is returned without the lock, and both write for a while.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return fd
            sleep(0.01)
            continue
        if is_current(fd, path):
            return fd
        os.close(fd)  # `remove` unlinked it meanwhile: lock the file at the path
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)


def await_drained(path: str, timeout: float = DRAIN_WAIT) -> bool:
    """Wait until no log writer of the daemon holds its lock (its last lines written); False after `timeout`."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return True  # never had a writer
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                return True
            except OSError as err:
                if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN) or time.monotonic() >= deadline:
                    return False
            time.sleep(0.01)
    finally:
        os.close(fd)
