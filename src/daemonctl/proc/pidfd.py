"""Waiting for processes to end without a polling tick: pidfds.

A pidfd becomes readable the moment its process exits, even while it stays
an unreaped zombie (which a container's PID 1 may never reap).
"""

from __future__ import annotations

import errno
import os
import select
import time
from collections.abc import Iterable

from daemonctl.errors import Failure
from daemonctl.proc.procfs import Identity, is_alive


def open_pidfd(pid: int) -> int | None:
    """A pidfd for PID, or None when no such process exists."""
    try:
        return os.pidfd_open(pid)
    except ProcessLookupError:
        return None
    except OSError as err:
        if err.errno != errno.ENOSYS:
            raise
        raise Failure("this kernel has no pidfd_open (Linux 5.3 or later is needed to wait for a process)") from None


def open_verified(identity: Identity) -> int | None:
    """A pidfd of the process of `identity`, or None when that process is gone."""
    fd = open_pidfd(identity.pid)
    # Checked after opening: if it is still the same process now, the pidfd
    # refers to it for good, and PID reuse can no longer fool us.
    if fd is not None and not is_alive(identity):
        os.close(fd)
        return None
    return fd


def wait_any(pidfds: Iterable[int], timeout: float) -> set[int]:
    """Block until at least one pidfd's process has exited or `timeout` passes; the exited ones."""
    poller = select.poll()
    fds = list(pidfds)
    for fd in fds:
        poller.register(fd, select.POLLIN)
    if not fds:
        time.sleep(max(timeout, 0.0))
        return set()
    events = poller.poll(max(timeout, 0.0) * 1000.0)
    return {fd for fd, _ in events}


def wait_exit(pid: int, timeout: float) -> bool:
    """True when PID has exited (or never existed) within `timeout` seconds."""
    fd = open_pidfd(pid)
    if fd is None:
        return True
    try:
        return bool(wait_any([fd], timeout))
    finally:
        os.close(fd)
