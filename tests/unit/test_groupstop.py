"""ProcessGroup on plain child processes (no daemons): bounded pidfds, no group without proof,
descriptors running out, a schedule run on a real group, several groups under one deadline."""

import errno
import os
import signal
import subprocess
import sys

import pytest

from daemonctl.proc import groupstop
from daemonctl.proc.groupstop import Groups, ProcessGroup
from daemonctl.proc.ownership import GroupProof
from daemonctl.proc.procfs import Identity, read_stat
from daemonctl.schedule import parse_schedule, run

CHILDREN = 12
# A group leader in a session of its own, with CHILDREN children in its group; says "ready".
LEADER = f"""
import os, signal, sys, time
for _ in range({CHILDREN}):
    if os.fork() == 0:
        signal.pause()
        os._exit(0)
print("ready", flush=True)
signal.pause()
"""


@pytest.fixture
def group():
    proc = subprocess.Popen([sys.executable, "-c", LEADER], stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout.readline().strip() == "ready"
    yield proc
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def identity(pid: int) -> Identity:
    ident = Identity.of(pid)
    assert ident is not None
    return ident


def proof(pid: int) -> GroupProof:
    st = read_stat(pid)
    return GroupProof(pid, st.sid, st.starttime)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_leftovers_are_stopped_holding_a_bounded_number_of_pidfds(group, monkeypatch):
    p = proof(group.pid)
    os.kill(group.pid, signal.SIGKILL)  # the leader is gone, its children stay
    group.wait()
    held = []
    with ProcessGroup(None, p, max_held=3) as pg:
        assert len(pg.members()) == CHILDREN
        real_watch = pg._watch

        def watch():
            fds = real_watch()
            held.append(len(pg.fds))
            return fds

        monkeypatch.setattr(pg, "_watch", watch)
        assert not pg.wait_gone(0.05)  # nothing signalled yet: they all still run
        assert held[-1] == 3
        pg.send(signal.SIGKILL)
        assert pg.wait_gone(10.0)
        assert pg.members() == []
    assert max(held) == 3 and held[-1] == 0


def test_without_proof_only_the_leader_is_signalled(group):
    children = [st.pid for st in map(read_stat, map(int, filter(str.isdigit, os.listdir("/proc"))))
                if st is not None and st.pgid == group.pid and st.pid != group.pid]
    assert len(children) == CHILDREN
    with ProcessGroup(identity(group.pid), None) as pg:
        pg.send(signal.SIGTERM)
        assert pg.wait_gone(10.0)
    group.wait()
    assert all(read_stat(c) is not None and not read_stat(c).zombie for c in children)


def test_a_proof_for_another_session_signals_nothing(group):
    p = proof(group.pid)._replace(sid=os.getsid(0))  # the group is not in the recorded session
    os.kill(group.pid, signal.SIGKILL)
    group.wait()
    before = open_fds()
    with ProcessGroup(None, p) as pg:
        assert pg.members() == []
        pg.send(signal.SIGTERM)
        assert pg.wait_gone(0.0)
    assert open_fds() == before
    st = read_stat(group.pid)
    assert st is None  # the leader is gone ...
    survivors = [s for s in map(read_stat, map(int, filter(str.isdigit, os.listdir("/proc"))))
                 if s is not None and s.pgid == group.pid and not s.zombie]
    assert len(survivors) == CHILDREN  # ... and its children got no signal


def test_with_no_descriptor_left_the_group_is_watched_through_proc(group, monkeypatch):
    """EMFILE: no member can be held by a pidfd; wait_gone looks at /proc again instead of failing."""
    p = proof(group.pid)
    os.kill(group.pid, signal.SIGKILL)
    group.wait()
    opened = []

    def no_descriptor_left(pid: int) -> int:
        opened.append(pid)
        raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))

    monkeypatch.setattr(groupstop, "open_pidfd", no_descriptor_left)
    with ProcessGroup(None, p) as pg:
        assert len(pg.members()) == CHILDREN
        assert not pg.wait_gone(0.1)  # they run, though none could be held
        assert opened and pg.fds == {}
        os.killpg(group.pid, signal.SIGKILL)  # what a stop's KILL does, here from the test
        assert pg.wait_gone(30.0)
        assert pg.members() == []


@pytest.mark.parametrize("err", [errno.EMFILE, errno.ENFILE])
def test_a_descriptor_limit_means_unheld_other_errors_propagate(monkeypatch, err):
    def fail(pid: int) -> int:
        raise OSError(err, os.strerror(err))

    monkeypatch.setattr(groupstop, "open_pidfd", fail)
    assert groupstop._try_pidfd(os.getpid()) is None
    monkeypatch.setattr(groupstop, "open_pidfd", lambda pid: (_ for _ in ()).throw(OSError(errno.EPERM, "no")))
    with pytest.raises(PermissionError):
        groupstop._try_pidfd(os.getpid())


# A leader that carries on after TERM (printing it) and exits 0 on HUP; its children ignore
# TERM and die of HUP: a stop must send TERM to the group, wait, then HUP, and be done.
STUBBORN = f"""
import os, signal, sys
signal.signal(signal.SIGTERM, signal.SIG_IGN)
for _ in range({CHILDREN}):
    if os.fork() == 0:
        signal.pause()
        os._exit(0)
def on(num, frame):
    print(signal.Signals(num).name, flush=True)
    if num == signal.SIGHUP:
        os._exit(0)
signal.signal(signal.SIGTERM, on)
signal.signal(signal.SIGHUP, on)
print("ready", flush=True)
while True:
    signal.pause()
"""


def test_a_stop_schedule_signals_the_group_in_order_and_returns_once_it_is_gone():
    proc = subprocess.Popen([sys.executable, "-c", STUBBORN], stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        with ProcessGroup(identity(proc.pid), proof(proc.pid)) as pg:
            assert len(pg.members()) == CHILDREN
            assert run(parse_schedule("TERM/0.3/HUP/30/KILL/30"), pg.send, pg.wait_gone)
            assert pg.members() == []
        assert proc.wait(timeout=30) == 0  # it exited on HUP: the KILL step was never reached
        assert proc.stdout.read().split() == ["SIGTERM", "SIGHUP"]
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


class FakeGroup:
    """A group that is gone `after` seconds of waiting (never, with None), on a shared fake clock."""

    def __init__(self, clock: list[float], after: float | None) -> None:
        self.clock, self.after, self.sent, self.waits = clock, after, [], []

    def send(self, sig: int) -> None:
        self.sent.append(sig)

    def wait_gone(self, timeout: float) -> bool:
        self.waits.append(timeout)
        if self.after is not None and self.after <= timeout:
            self.clock[0] += self.after
            return True
        self.clock[0] += timeout
        return False


def test_groups_are_signalled_together_and_share_one_deadline():
    now = [0.0]
    first, second = FakeGroup(now, after=4.0), FakeGroup(now, after=None)
    groups = Groups([first, second], clock=lambda: now[0])  # type: ignore[list-item]
    groups.send(signal.SIGTERM)
    assert first.sent == second.sent == [signal.SIGTERM]
    assert not groups.wait_gone(10.0)
    assert first.waits == [10.0] and second.waits == [6.0]  # what is left of the 10 s, not 10 more
    assert now[0] == 10.0
