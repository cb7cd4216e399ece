"""ProcessGroup on plain child processes (no daemons): bounded pidfds, and no group without proof."""

import os
import signal
import subprocess
import sys

import pytest

from daemonctl.ownership import GroupProof
from daemonctl.procfs import Identity, read_stat
from daemonctl.stopper import ProcessGroup

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
