"""Signalling a daemon's processes and waiting, on pidfds, until they are gone."""

from __future__ import annotations

import os
# The C module: signal.py builds its IntEnum classes at import, a few milliseconds per run.
import _signal as signal
import time
from collections.abc import Callable

from .errors import PrivilegeError
from .procfs import Identity, group_members, read_stat
from .waiting import open_pidfd, open_verified, wait_any


class ProcessGroup:
    """A daemon's leader, held by a pidfd so a reused PID is never signalled, and its group.

    `pgid` is None for a process daemonctl did not start (a foreign pidfile):
    then only that process is signalled, never a group it may merely belong to.
    """

    def __init__(
        self,
        leader: Identity | None,
        pgid: int | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pgid = pgid
        self.clock = clock
        self.leader_fd = open_verified(leader) if leader else None
        self.leader_pid = leader.pid if self.leader_fd is not None else None  # type: ignore[union-attr]
        self.fds: dict[int, int] = {}  # pid -> pidfd of the group's other members

    def close(self) -> None:
        for fd in [self.leader_fd, *self.fds.values()]:
            if fd is not None:
                os.close(fd)
        self.leader_fd, self.fds = None, {}

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, sig: int) -> None:
        """Send `sig` to the group (which holds the leader) and to a leader that left it."""
        try:
            if self.pgid is not None and group_members(self.pgid):
                os.killpg(self.pgid, sig)
            if self._leader_running() and not self._leader_in_group():
                signal.pidfd_send_signal(self.leader_fd, sig)  # type: ignore[arg-type]
        except ProcessLookupError:
            pass
        except PermissionError:
            raise PrivilegeError(f"not allowed to send {_name(sig)} to the daemon's processes")

    def wait_gone(self, timeout: float) -> bool:
        """True once every process is gone (zombies count as gone); False after `timeout`."""
        deadline = self.clock() + timeout
        while True:
            fds = self._watch()
            if not fds:
                return True
            remaining = deadline - self.clock()
            if remaining <= 0:
                return False
            for fd in wait_any(fds, remaining):
                self._forget(fd)

    def _leader_running(self) -> bool:
        if self.leader_fd is None:
            return False
        if wait_any([self.leader_fd], 0):
            os.close(self.leader_fd)
            self.leader_fd = None
            return False
        return True

    def _leader_in_group(self) -> bool:
        if self.pgid is None:
            return False
        st = read_stat(self.leader_pid) if self.leader_pid else None
        return st is not None and st.pgid == self.pgid

    def _watch(self) -> list[int]:
        """Pidfds of everything still running: the leader and the group's current members."""
        members = set(group_members(self.pgid)) if self.pgid is not None else set()
        members.discard(self.leader_pid or -1)
        for pid in list(self.fds):
            if pid not in members:
                os.close(self.fds.pop(pid))
        for pid in members - self.fds.keys():
            fd = open_pidfd(pid)
            if fd is not None:
                self.fds[pid] = fd
        fds = list(self.fds.values())
        if self._leader_running():
            fds.append(self.leader_fd)  # type: ignore[arg-type]
        return fds

    def _forget(self, fd: int) -> None:
        if fd == self.leader_fd:
            os.close(fd)
            self.leader_fd = None
            return
        for pid, member_fd in list(self.fds.items()):
            if member_fd == fd:
                os.close(self.fds.pop(pid))


def _name(sig: int) -> str:
    from .signals import signal_name

    return signal_name(sig)
