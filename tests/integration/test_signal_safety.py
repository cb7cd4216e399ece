"""Issue 10: signals go only to processes provably the daemon's (defects 2 and 6).

A stranger (user nobody) sets up a process group of its own: its leader Q calls
setsid, forks a worker that logs every signal it gets, and exits. PID Q is then
free while group Q lives, the situation a stopped or dead daemon's record meets
when its PID is reused. The records are edited to name Q, which makes the PID
reuse deterministic.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from .helpers import NOBODY, SH, SLEEP, alive, assert_ok, assert_one_error, group_members, proc_stat, wait_for, wait_gone

pytestmark = pytest.mark.integration

SYSTEM_PY = "/usr/bin/python3"

# argv: LOGFILE. Prints "Q STARTTIME WORKER" once the worker logs signals; then Q exits.
STRANGER = r"""
import os, signal, sys, time
log = sys.argv[1]
r, w = os.pipe()
q = os.fork()
if q == 0:
    os.setsid()
    worker = os.fork()
    if worker == 0:
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)  # let go of the test's pipes
        def on(num, frame):
            with open(log, "a") as f:
                f.write(f"{num}\n")
        for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGCONT):
            signal.signal(s, on)
        os.write(w, b"x")
        while True:
            time.sleep(1)
    os.read(r, 1)
    with open("/proc/self/stat") as f:
        start = f.read().rpartition(")")[2].split()[19]
    print(os.getpid(), start, worker, flush=True)
    os._exit(0)
os.waitpid(q, 0)
"""


@pytest.fixture
def stranger(dctl):
    """Start a stranger as nobody; (Q, Q's start time, worker PID, its signal log)."""
    if os.geteuid() != 0 or not shutil.which("setpriv") or not os.access(SYSTEM_PY, os.X_OK):
        pytest.skip("needs root, setpriv and /usr/bin/python3")
    tmp = Path(tempfile.mkdtemp(prefix="dctl-stranger-"))
    tmp.chmod(0o777)
    log = tmp / "signals"
    made = []

    def make():
        cp = subprocess.run(NOBODY + [SYSTEM_PY, "-c", STRANGER, str(log)], capture_output=True, text=True,
                            timeout=30, env=dctl.env)
        q, start, worker = map(int, cp.stdout.split())
        dctl.track(worker)
        made.append(worker)
        assert wait_gone(q) and alive(worker)
        st = proc_stat(worker)
        assert (st["pgrp"], st["session"]) == (q, q), "setup: the worker leads nothing, Q does"
        return q, start, worker, log

    yield make
    for worker in made:
        try:
            os.kill(worker, signal.SIGKILL)
        except OSError:
            pass
    shutil.rmtree(tmp, ignore_errors=True)


def edit_record(dctl, name: str, **changes) -> None:
    rec = dctl.record(name)
    rec.update(changes)
    dctl.recordfile(name).write_text(json.dumps(rec) + "\n")


def untouched(worker: int, log: Path) -> bool:
    return alive(worker) and not (log.exists() and log.read_text().strip())


@pytest.mark.parametrize("respawn", [False, True], ids=["plain", "respawn"])
def test_stop_and_restart_of_a_stopped_record_signal_no_stranger(dctl, stranger, respawn):
    opts = ["--respawn"] if respawn else []
    dctl.start("a", SLEEP, "300", opts=opts)
    assert_ok(dctl("stop", "a"))
    q, start, worker, log = stranger()
    edit_record(dctl, "a", pid=q, starttime=start)  # a stopped record whose PID was reused
    assert_ok(dctl("stop", "-t", "1", "a"))
    assert untouched(worker, log), "stop of a stopped daemon signalled a stranger's group"
    assert_ok(dctl("restart", "-t", "1", "a"))
    assert untouched(worker, log), "restart of a stopped daemon signalled a stranger's group"
    assert_ok(dctl("stop", "-t", "1", "a"))
    assert untouched(worker, log)


@pytest.mark.parametrize("respawn", [False, True], ids=["plain", "respawn"])
def test_a_dead_daemon_whose_pid_was_reused_signals_no_stranger(dctl, stranger, respawn):
    """The record says running, its program is gone, and group P is a stranger's now."""
    opts = ["--respawn"] if respawn else []
    dctl.start("b", SLEEP, "300", opts=opts)
    if respawn:
        os.kill(dctl.record("b")["supervisor_pid"], signal.SIGKILL)
    program = dctl.record("b")["pid"]
    os.kill(program, signal.SIGKILL)
    assert wait_gone(program)
    q, start, worker, log = stranger()
    running = dict(dctl.record("b"), pid=q, starttime=start)
    for command in (["stop", "-t", "1", "b"], ["start", "-n", "b"], ["remove", "b"], ["restart", "-t", "1", "b"]):
        dctl.recordfile("b").write_text(json.dumps(running) + "\n")
        cp = dctl(*command)
        assert "Traceback" not in cp.stderr, cp.stderr
        assert untouched(worker, log), f"{command} signalled a stranger's group"
        dctl("stop", "-t", "1", "b")
    assert untouched(worker, log)


LEFTOVERS = "sleep 300 & sleep 300 & exec sleep 300"


def test_a_dead_daemons_leftovers_are_stopped_by_start_and_stop_and_block_remove(dctl):
    user = ["--user", "nobody"] if os.geteuid() == 0 else []
    leader = dctl.start("c", SH, "-c", LEFTOVERS, opts=user)
    assert wait_for(lambda: len(group_members(leader)) == 3)
    children = [p for p in group_members(leader) if p != leader]
    os.kill(leader, signal.SIGKILL)
    assert wait_gone(leader)
    assert dctl("status", "c").returncode == 1
    # remove would forget them: it refuses, and says what to do
    cp = dctl("remove", "c")
    assert_one_error(cp, 1)
    assert "daemonctl stop c" in cp.stderr
    assert dctl.recordfile("c").exists() and all(alive(p) for p in children)
    # start stops them before it starts anew: never two generations side by side
    new = dctl.start("c")
    assert not [p for p in children if alive(p)], "start left the dead daemon's processes running"
    assert wait_for(lambda: len(group_members(new)) == 3)
    children = [p for p in group_members(new) if p != new]
    os.kill(new, signal.SIGKILL)
    assert wait_gone(new)
    assert_ok(dctl("stop", "-t", "1", "c"))
    assert not [p for p in children if alive(p)], "stop left the dead daemon's processes running"
    assert_ok(dctl("remove", "c"))
    assert dctl.token_pids() == []
