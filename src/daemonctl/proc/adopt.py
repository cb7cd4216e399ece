"""Adopting the daemon that a self-daemonizing program leaves behind (`start --forking`).

Whoever adopts (daemonctl's `start`, or the resident supervisor) is the child
subreaper of what it started (PR_SET_CHILD_SUBREAPER, see subreaper.py) from
before the program runs until the daemon is adopted: every process the program
starts and then orphans is re-parented to it, not to init. A process whose
parent is the adopter is therefore one the program started; nobody else can
make the adopter its parent. Where the daemon has a cgroup of its own, being in
it is proof as well (`Host.member`). Nothing else is adopted: a pidfile that
names any other process (someone else's, or a PID reused since) fails the
adoption, and nothing is signalled.

Each candidate is held by a pidfd while it is checked, and found still alive
afterwards: the process checked is the one whose identity (PID, start time,
boot id) is returned, whatever PIDs are reused meanwhile.

Without a pidfile to go by, the daemon is the single process left behind once
the program's tree has settled: a program that forks twice (fork, setsid, fork)
leaves an intermediate that exits a moment later, so the children are watched
until they stay the same for SETTLE seconds.

Lean: the resident supervisor imports this module (no Click, psutil, socket).
"""

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from daemonctl.proc.procfs import PROC, Identity, Stat, boot_id, read_stat
from daemonctl.speedups import NamedTuple

SETTLE = 0.25  # how long the children must stay the same before the single one is adopted
MAX_DEPTH = 64  # parents followed up from a pidfile's PID
TICK = 0.02  # how often the children and the pidfile are looked at while waiting


class NotAdopted(Exception):
    """No daemon could be adopted; the message says why (one line, from "the program ...").

    `trust`: a pidfile that is a symlink or a special file (refused, not read).
    `left`: the processes the program left behind that are provably its own,
    which the caller stops; nothing else is ever signalled.
    """

    def __init__(self, message: str, left: "list[Adopted] | None" = None, trust: bool = False) -> None:
        super().__init__(message)
        self.message, self.left, self.trust = message, left or [], trust


class PidfileUnreadable(Exception):
    """What `Host.read_pidfile` raises for a pidfile that cannot be used (yet): its reason.

    `final`: it will not get better by waiting (a symlink, a FIFO): give up at once.
    """

    def __init__(self, reason: str, final: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.final = reason, final


class Adopted(NamedTuple):
    identity: Identity
    sid: int  # its session: it may have called setsid (see ownership)
    pgid: int


def _hold(pid: int) -> Iterator[Callable[[], bool]]:
    """Hold PID by a pidfd; yields a test of whether that very process still runs."""
    from daemonctl.proc.pidfd import open_pidfd, wait_any

    fd = open_pidfd(pid)
    if fd is None:
        yield lambda: False
        return
    try:
        yield lambda: not wait_any([fd], 0)
    finally:
        os.close(fd)


class Host:
    """What adoption looks at and waits with: the real ones by default, a test's stand-ins otherwise."""

    def __init__(
        self,
        me: int | None = None,
        proc: str = PROC,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        hold: Callable[[int], Iterator[Callable[[], bool]]] = _hold,
        member: Callable[[int], bool] | None = None,
        reap: Callable[[int], None] | None = None,
        others: frozenset[tuple[int, int]] = frozenset(),
        since: int = 0,
    ) -> None:
        self.me = os.getpid() if me is None else me
        self.proc, self.clock, self.sleep = proc, clock, sleep
        self.hold = contextmanager(hold)
        self.member = member  # in the daemon's cgroup (None: no cgroup to go by)
        self.reap = reap if reap is not None else _reap
        self.reaped_any = False
        # Children we had before the program was started (another daemon this process started
        # and adopted: a set's earlier instance), and the program's start time: older ones are
        # not its own.
        self.others, self.since = others, since

    def stat(self, pid: int) -> Stat | None:
        return read_stat(pid, self.proc)

    def children(self) -> list[Stat]:
        """The live processes whose parent is us (zombies among them are reaped: `reaped_any`).

        /proc is not read at once: a child that exits during the scan may have forked one
        that the scan missed, which is why a scan that reaped anything proves nothing.
        """
        found = []
        self.reaped_any = False
        for pid in self._candidates():
            st = read_stat(pid, self.proc)
            if st is None or st.ppid != self.me:
                continue
            if st.zombie:
                self.reap(st.pid)  # an intermediate that has done its work
                self.reaped_any = True
            elif st.starttime >= self.since and (st.pid, st.starttime) not in self.others:
                found.append(st)
        return found

    def _candidates(self) -> list[int]:
        """Our children's PIDs, from the kernel's lists of each of our threads' children (tens of
        microseconds; the scan of all of /proc it falls back to takes milliseconds)."""
        try:
            pids = []
            for task in os.listdir(f"{self.proc}/{self.me}/task"):
                with open(f"{self.proc}/{self.me}/task/{task}/children", encoding="utf-8") as f:
                    pids += [int(pid) for pid in f.read().split()]
            return pids
        except (OSError, ValueError):
            return [int(entry) for entry in os.listdir(self.proc) if entry.isdigit()]

    def present(self) -> frozenset[tuple[int, int]]:
        """Our live children now (PID and start time), to be left out of what a program started next leaves."""
        return frozenset((st.pid, st.starttime) for st in self.children())

    def verify(self, pid: int) -> "Adopted | None":
        """PID's identity if it is a live process the program started; None if it is not (or gone)."""
        with self.hold(pid) as still_there:
            st = self.stat(pid)
            if st is None or st.zombie:
                return None
            if st.ppid != self.me and not (self.member is not None and self.member(pid)):
                return None
            if (pid, st.starttime) in self.others or st.starttime < self.since:
                return None  # ours, but from before this program ran
            if not still_there():
                return None  # what was read by its PID may be another's: it exited meanwhile
            return Adopted(Identity(pid, st.starttime, boot_id()), st.sid, st.pgid)

    def descends(self, pid: int) -> bool:
        """Whether PID's line of parents leads to us now. Only ever a reason to wait, never to
        adopt: a parent can exit and its PID be reused between two reads."""
        for _ in range(MAX_DEPTH):
            st = self.stat(pid)
            if st is None or st.ppid <= 1:
                return False
            if st.ppid == self.me:
                return True
            pid = st.ppid
        return False

    def alive(self, pid: int) -> bool:
        st = self.stat(pid)
        return st is not None and not st.zombie


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def left_behind(host: Host) -> list[Adopted]:
    """What the program left running, provably its own: our live children (scanned again until a
    scan reaps nothing, so that no child forked by one exiting meanwhile is missed)."""
    while True:
        kids = host.children()
        if not host.reaped_any:
            return [Adopted(Identity(st.pid, st.starttime, boot_id()), st.sid, st.pgid) for st in kids]


def single(host: Host, deadline: float, settle: float = SETTLE) -> Adopted:
    """The one process the program left behind, once its children have settled; NotAdopted otherwise."""
    seen: tuple[tuple[int, int], ...] | None = None
    since = host.clock()
    while True:
        kids = host.children()
        now = host.clock()
        key = tuple(sorted((st.pid, st.starttime) for st in kids))
        if key != seen:
            seen, since = key, now
        if not kids and (not host.reaped_any or now >= deadline):
            # Everything it forked before exiting was ours the moment it exited, and a scan that
            # met no child at all, not even one exiting, missed none: nothing is left.
            raise NotAdopted("left no process behind: nothing to adopt (a program that stays in "
                             "the foreground is started without --forking)")
        if kids and (now - since >= settle or now >= deadline):
            if len(kids) > 1:
                pids = " ".join(str(st.pid) for st in sorted(kids, key=lambda s: s.pid))
                raise NotAdopted(f"left {len(kids)} processes behind (pid {pids}): give --pid-from PATH, "
                                 "the pidfile the program writes, to say which one is the daemon",
                                 left=left_behind(host))
            adopted = host.verify(kids[0].pid)
            if adopted is not None:
                return adopted
            if now >= deadline:
                raise NotAdopted("left no process behind that stayed: nothing to adopt")
            seen = None  # it exited meanwhile: look again
        host.sleep(max(min(TICK, deadline - now), 0.0))


def named(
    host: Host,
    path: str,
    read_pidfile: Callable[[], int | None],
    deadline: float,
    before: int | None = None,
) -> Adopted:
    """The process named by the program's pidfile PATH, once it names one the program started.

    `read_pidfile()` gives the PID in it (None while there is no file) or raises
    PidfileUnreadable. `before`: the PID the file held before the program ran (a
    previous run's), waited past. A live process that the program did not start
    fails at once, signalled by no one.
    """
    problem = "was never written"
    while True:
        try:
            pid = read_pidfile()
        except PidfileUnreadable as err:
            if err.final:
                raise NotAdopted(f"pidfile {path} {err.reason}", left=left_behind(host), trust=True) from None
            pid, problem = None, err.reason
        if pid is not None:
            adopted = host.verify(pid)
            if adopted is not None:
                host.children()  # reaps the intermediates that have done their work
                return adopted
            if pid == before:
                problem = f"still names pid {pid}, of an earlier run"
            elif host.descends(pid):
                # Started by the program, its parent not yet gone (an intermediate about to exit).
                problem = f"names pid {pid}, whose parent (started by the program) did not exit"
            elif host.alive(pid):
                raise NotAdopted(f"pidfile {path} names pid {pid}, which is not a process the program started; "
                                 "left it alone", left=left_behind(host))
            else:
                problem = f"names pid {pid}, which is not running"
        now = host.clock()
        if now >= deadline:
            raise NotAdopted(f"pidfile {path} {problem}", left=left_behind(host))
        host.sleep(max(min(TICK, deadline - now), 0.0))


def kill_left(left: list[Adopted]) -> None:
    """SIGKILL what a failed adoption left behind, and reap it: each process, held by a pidfd
    and checked again, with its group while it is in it (as stop does, see ownership)."""
    import signal

    from daemonctl.proc.pidfd import open_verified

    for each in left:
        fd = open_verified(each.identity)
        if fd is None:
            continue
        try:
            st = read_stat(each.identity.pid)
            if st is not None and st.pgid == each.pgid and not st.zombie:
                os.killpg(each.pgid, signal.SIGKILL)
            signal.pidfd_send_signal(fd, signal.SIGKILL)
        except OSError:
            pass  # gone meanwhile
        finally:
            os.close(fd)
        _reap_blocking(each.identity.pid)


def _reap_blocking(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
