"""Signalling a daemon's processes and waiting, on pidfds, until they are gone."""

from __future__ import annotations

import errno
import os

# The C module: signal.py builds its IntEnum classes at import, a few milliseconds per run.
import signal
import time
from collections.abc import Callable

from daemonctl.errors import PrivilegeError
from daemonctl.proc.ownership import GroupProof, members, still_owned
from daemonctl.proc.pidfd import open_pidfd, open_verified, wait_any
from daemonctl.proc.procfs import Identity, read_stat

# Pidfds held at once while waiting: a daemon may have more processes than we may
# open files. When all the held ones have exited, the group is scanned again.
MAX_HELD = 64
UNHELD_TICK = 0.02  # only when not even one pidfd can be opened


class ProcessGroup:
    """A daemon's leader, held by a pidfd so a reused PID is never signalled, and its group.

    `proof` is None for a process daemonctl did not start (a foreign pidfile), or
    a record that proves nothing: then only the leader is signalled, never a group.
    With a proof, the group is signalled only while a process held by a verified
    pidfd shows it is the daemon's (see ownership); `leader` may then be None (its
    leftovers after the leader died).
    """

    def __init__(
        self,
        leader: Identity | None,
        proof: GroupProof | None,
        clock: Callable[[], float] = time.monotonic,
        max_held: int = MAX_HELD,
    ) -> None:
        self.clock, self.max_held = clock, max_held
        self.leader_fd = open_verified(leader) if leader else None
        self.leader_pid = leader.pid if leader is not None and self.leader_fd is not None else None
        st = read_stat(self.leader_pid) if self.leader_pid else None
        if proof is not None and st is not None and st.pgid == proof.pgid:
            # The live leader proves its session: the one its members share (it may have
            # called setsid itself, or the record may predate recorded sessions).
            proof = proof._replace(sid=st.sid)
        self.proof = proof
        self.fds: dict[int, int] = {}  # pid -> pidfd of the group's other members, at most max_held
        self.strays: dict[int, int] = {}  # pid -> pidfd of descendants that left the group (see descendants)

    @property
    def pgid(self) -> int | None:
        return self.proof.pgid if self.proof is not None else None

    def close(self) -> None:
        for fd in [self.leader_fd, *self.fds.values(), *self.strays.values()]:
            if fd is not None:
                os.close(fd)
        self.leader_fd, self.fds, self.strays = None, {}, {}

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def members(self) -> list[int]:
        """The daemon's processes other than its live leader, as /proc shows them now."""
        return members(self.proof, exclude=self.leader_pid) if self.proof is not None else []

    def send(self, sig: int) -> None:
        """Send `sig` to the group (if provably the daemon's) and to a leader that left it.

        Needs no file descriptor per process: a thousand children are signalled as one.
        Descendants that left the group are found first, while their parents still lead to them.
        """
        if self.proof is not None:
            self._find_strays()
        try:
            leader_fd = self._live_leader_fd()
            if self.proof is not None and self._anchored(leader_fd is not None):
                os.killpg(self.proof.pgid, sig)
            if leader_fd is not None and not self._leader_in_group():
                signal.pidfd_send_signal(leader_fd, sig)
        except ProcessLookupError:
            pass
        except PermissionError:
            raise PrivilegeError(f"not allowed to send {_name(sig)} to the daemon's processes") from None
        self._send_strays(sig)

    def _send_strays(self, sig: int) -> None:
        """`sig` to the descendants that left the group, found now or held since an earlier signal."""
        for pid, fd in list(self.strays.items()):
            try:
                signal.pidfd_send_signal(fd, sig)
            except ProcessLookupError:
                os.close(self.strays.pop(pid))
            except PermissionError:
                pass  # it became another user's (a setuid program): not ours to signal

    def _find_strays(self) -> None:
        from daemonctl.proc.descendants import find, still_child
        from daemonctl.proc.ownership import scan

        assert self.proof is not None
        pgid = self.proof.pgid
        roots = {*self.members(), *self.strays}
        if self.leader_fd is not None and self.leader_pid is not None:
            roots.add(self.leader_pid)
        for found in find(roots, lambda st: st.pgid != pgid, scan()):
            if found.pid in self.strays or len(self.strays) >= self.max_held:
                continue
            fd = _try_pidfd(found.pid)
            if fd is None:
                continue
            if still_child(found, self.proof.uid):
                self.strays[found.pid] = fd
            else:
                os.close(fd)

    def _anchored(self, leader_running: bool) -> bool:
        """True when a live process, held by a pidfd, shows that group pgid is the daemon's now."""
        if leader_running and self._leader_in_group():
            return True
        assert self.proof is not None
        for pid, fd in list(self.fds.items()):
            if not wait_any([fd], 0) and still_owned(self.proof, pid):
                return True
        for pid in self.members():
            member_fd = _try_pidfd(pid)
            if member_fd is None:
                continue
            try:
                if still_owned(self.proof, pid):
                    return True
            finally:
                os.close(member_fd)
        return False

    def wait_gone(self, timeout: float) -> bool:
        """True once every process is gone (zombies count as gone); False after `timeout`."""
        deadline = self.clock() + timeout
        while True:
            fds = self._watch()
            if fds is not None and not fds:
                return True
            remaining = deadline - self.clock()
            if remaining <= 0:
                return False
            if fds is None:
                wait_any([], min(remaining, UNHELD_TICK))  # nothing to wait on: look again soon
                continue
            for fd in wait_any(fds, remaining):
                self._forget(fd)

    def _live_leader_fd(self) -> int | None:
        """The leader's pidfd while it runs; None once it has exited (its pidfd closed then)."""
        if self.leader_fd is None:
            return None
        if wait_any([self.leader_fd], 0):
            os.close(self.leader_fd)
            self.leader_fd = None
            return None
        return self.leader_fd

    def _leader_in_group(self) -> bool:
        if self.proof is None:
            return False
        st = read_stat(self.leader_pid) if self.leader_pid else None
        return st is not None and st.pgid == self.proof.pgid

    def _watch(self) -> list[int] | None:
        """Pidfds to wait on: the leader, and up to max_held members (scanned again once
        every held one has exited or left, so the last exit is seen the moment it happens).

        None when members run but no pidfd could be opened for any (no descriptor left).
        """
        for pid in list(self.fds):
            if self.proof is None or not still_owned(self.proof, pid):
                os.close(self.fds.pop(pid))  # gone (or a zombie), or it left the group
        unheld = False
        if not self.fds:
            for pid in self.members():
                if len(self.fds) >= self.max_held:
                    break
                fd = _try_pidfd(pid)
                if fd is None:
                    unheld = True
                elif self.proof is not None and still_owned(self.proof, pid):
                    self.fds[pid] = fd
                else:
                    os.close(fd)
        for pid, fd in list(self.strays.items()):
            if wait_any([fd], 0):
                os.close(self.strays.pop(pid))
        fds = list(self.fds.values()) + list(self.strays.values())
        leader_fd = self._live_leader_fd()
        if leader_fd is not None:
            fds.append(leader_fd)
        return None if unheld and not self.fds and not self.strays else fds

    def _forget(self, fd: int) -> None:
        if fd == self.leader_fd:
            os.close(fd)
            self.leader_fd = None
            return
        for pid, stray_fd in list(self.strays.items()):
            if stray_fd == fd:
                os.close(self.strays.pop(pid))
                return
        for pid, member_fd in list(self.fds.items()):
            if member_fd == fd:
                os.close(self.fds.pop(pid))


class Groups:
    """Several groups under one schedule: each signal to all, then wait for all."""

    def __init__(self, groups: list[ProcessGroup], clock: Callable[[], float] = time.monotonic) -> None:
        self.groups, self.clock = groups, clock

    def send(self, sig: int) -> None:
        for group in self.groups:
            group.send(sig)

    def wait_gone(self, timeout: float) -> bool:
        deadline = self.clock() + timeout
        return all(group.wait_gone(max(deadline - self.clock(), 0.0)) for group in self.groups)


def _try_pidfd(pid: int) -> int | None:
    """A pidfd for PID; None when it is gone, or when no descriptor is left to open one."""
    try:
        return open_pidfd(pid)
    except OSError as err:
        if err.errno in (errno.EMFILE, errno.ENFILE):
            return None
        raise


def _name(sig: int) -> str:
    from daemonctl.signals import signal_name

    return signal_name(sig)
