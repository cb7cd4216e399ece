"""Stopping a daemon through its cgroup: every process in it signalled, then waiting on cgroup.events until it is empty.

Nothing the program starts can leave its cgroup, so this reaches the children that
called setsid() or double-forked, which a process group loses. Each process is
signalled through a pidfd opened first and checked to be in the cgroup after,
so a PID reused meanwhile is never signalled; KILL goes through cgroup.kill where
the kernel has it (5.14), which takes every process at once, forks in flight too.
The wait needs no polling tick: the kernel wakes poll() on cgroup.events the
moment the last process exits (a zombie no longer counts: it has left the cgroup).
"""

from __future__ import annotations

import os
import select
import signal
import time
from collections.abc import Callable

from daemonctl.errors import PrivilegeError
from daemonctl.proc import cgroupfs
from daemonctl.proc.cgroupfs import Cgroup
from daemonctl.proc.procfs import PROC, read_stat

FILTERED_TICK = 0.05  # see wait_gone
ROUNDS = 16  # passes over cgroup.procs per signal, for the processes forked while it was being sent
# After these, no SIGCONT: a stopped process must see TERM (or HUP...) to act on it, not these.
NO_CONT = frozenset({signal.SIGKILL, signal.SIGCONT, signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU})


def wait_event(fd: int, timeout: float) -> None:
    """Block until the kernel marks the cgroup.events file of `fd` changed, or `timeout` passes."""
    poller = select.poll()
    poller.register(fd, select.POLLPRI)
    poller.poll(max(timeout, 0.0) * 1000.0)


class CgroupMembers:
    """The processes of a daemon's cgroup (and the cgroups below it), under one stop schedule."""

    def __init__(
        self,
        cgroup: Cgroup,
        proc: str = PROC,
        clock: Callable[[], float] = time.monotonic,
        waiter: Callable[[int, float], None] = wait_event,
        send_one: Callable[[int, int], bool] | None = None,
        since: int | None = None,
    ) -> None:
        self.cgroup, self.proc, self.clock, self.waiter = cgroup, proc, clock, waiter
        self.send_one = send_one or self._send_verified
        # Only the members started at or after this (clock ticks since boot): what is left of a
        # daemon whose program is gone is what it started, never anything older than the record.
        self.since = since

    def with_since(self, since: int | None) -> CgroupMembers:
        return CgroupMembers(self.cgroup, self.proc, self.clock, self.waiter, self.send_one, since)

    def members(self) -> list[int]:
        pids = cgroupfs.procs(self.cgroup.path)
        return pids if self.since is None else [pid for pid in pids if self._recent(pid)]

    def _recent(self, pid: int) -> bool:
        st = read_stat(pid, self.proc)
        return st is not None and self.since is not None and st.starttime >= self.since

    def send(self, sig: int) -> None:
        """`sig` to every process of the cgroup, those forked meanwhile included; KILL through cgroup.kill."""
        if sig == signal.SIGKILL and self.since is None and self._kill_all():
            return
        signalled = self._send_all(sig)
        if sig not in NO_CONT and signalled:
            self._send_all(signal.SIGCONT)

    def _send_all(self, sig: int) -> set[int]:
        seen: set[int] = set()
        for _ in range(ROUNDS):
            fresh = [pid for pid in self.members() if pid not in seen]
            if not fresh:
                break
            for pid in fresh:
                seen.add(pid)
                self.send_one(pid, sig)
        return seen

    def _kill_all(self) -> bool:
        """SIGKILL to all at once through cgroup.kill; False where the kernel has none."""
        try:
            cgroupfs.write(f"{self.cgroup.path}/cgroup.kill", "1")
        except FileNotFoundError:
            return not os.path.isdir(self.cgroup.path)  # gone: nothing left to kill
        except PermissionError:
            raise PrivilegeError(f"not allowed to kill the processes of cgroup {self.cgroup.path}") from None
        except OSError as err:
            if not cgroupfs.removed(err):
                raise
        return True

    def _send_verified(self, pid: int, sig: int) -> bool:
        """`sig` to PID if it is (still) in the cgroup, through a pidfd checked after opening."""
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            return False
        try:
            if not cgroupfs.is_member(pid, self.cgroup, self.proc) or (self.since is not None and not self._recent(pid)):
                return False
            signal.pidfd_send_signal(fd, sig)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            raise PrivilegeError(f"not allowed to signal the daemon's processes (pid {pid})") from None
        finally:
            os.close(fd)

    def wait_gone(self, timeout: float) -> bool:
        """True once no process is left in the cgroup (within `timeout` seconds); False if some still are."""
        deadline = self.clock() + timeout
        try:
            fd = os.open(f"{self.cgroup.path}/cgroup.events", os.O_RDONLY | os.O_CLOEXEC)
        except OSError as err:
            if cgroupfs.removed(err):
                return True
            raise
        try:
            while True:
                if not _populated(fd) or (self.since is not None and not self.members()):
                    return True
                remaining = deadline - self.clock()
                if remaining <= 0:
                    return False
                # With members left out (older than `since`), the cgroup may never empty: look
                # again at a tick. That happens only for a record that no longer names its program.
                self.waiter(fd, remaining if self.since is None else min(remaining, FILTERED_TICK))
        finally:
            os.close(fd)


def _populated(fd: int) -> bool:
    try:
        text = os.pread(fd, 4096, 0).decode("ascii", "replace")
    except OSError as err:
        if cgroupfs.removed(err):
            return False  # removed since it was opened (`stop` of the daemon): it was empty
        raise
    return cgroupfs.populated_in(text)


def members_of(path: str, proc: str = PROC) -> CgroupMembers | None:
    """The daemon's cgroup at `path` (a record's), if it is one in a cgroup2 mount; None: signal nothing through it."""
    cgroup = cgroupfs.locate(path, proc)
    return None if cgroup is None else CgroupMembers(cgroup, proc)
