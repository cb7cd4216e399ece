"""Issue 6, crash consistency: daemonctl SIGKILLed at any point of start, stop or restart
leaves a state the next command understands: no daemon, or exactly one daemon that status
reports and stop stops; never a dead pidfile reported as running, never a stuck lock.

Two ways to kill it: DAEMONCTL_TEST_CRASH_AT=<step> (daemonctl SIGKILLs itself at that
named step), and a sweep of SIGKILLs after growing delays.
(Test names avoid the words the PID-namespace re-run selects by.)
"""
import json
import signal
import subprocess
import time

import pytest

from .helpers import SLEEP, assert_ok, cmdline, wait_for

pytestmark = pytest.mark.integration

CRASH_VAR = "DAEMONCTL_TEST_CRASH_AT"
START_STEPS = ["start:locked", "start:ready", "start:record", "start:pidfile", "start:spawned"]
STOP_STEPS = ["stop:locked", "stop:sent", "stop:gone", "stop:unlinked"]
RESTART_STEPS = ["stop:sent", "stop:unlinked", "restart:stopped", "start:ready", "start:record", "start:pidfile"]


def programs(dctl) -> list[int]:
    """The test's programs that run; waits until no half-started grandchild is left."""
    def settled():
        pids = dctl.token_pids()
        return (pids,) if all(cmdline(p)[:1] == [SLEEP] for p in pids) else None

    found = wait_for(settled, timeout=10)
    assert found is not None, "a grandchild that was never told to exec is still there"
    return found[0]


def check_pidfile_known(dctl, name: str) -> None:
    """A pidfile never names a process that no record knows of (written record first)."""
    try:
        text = dctl.pidfile(name).read_text()
    except FileNotFoundError:
        return
    assert text.strip(), "an empty pidfile was left"
    pid = int(text)
    try:
        rec = json.loads(dctl.recordfile(name).read_text())
    except FileNotFoundError:
        raise AssertionError(f"the pidfile names {pid}, and there is no record") from None
    assert pid in (rec.get("pid"), rec.get("supervisor_pid")), f"the pidfile names {pid}, the record: {rec}"


def check_consistent(dctl, name: str) -> None:
    """The invariants, then: stop works (no stuck lock) and a fresh start works."""
    check_pidfile_known(dctl, name)
    progs = programs(dctl)
    assert len(progs) <= 1, f"two daemons for one name: {progs}"
    st = dctl("status", name, timeout=10)
    assert "Traceback" not in st.stderr
    if progs:
        dctl.track(progs[0])
        assert st.returncode == 0 and f"pid {progs[0]}" in st.stdout, st
    else:
        assert st.returncode in (1, 3), f"reported running with no program: {st}"
    assert_ok(dctl("stop", "-t", "5", name, timeout=10))
    assert programs(dctl) == []
    assert dctl("status", name, timeout=10).returncode in (1, 3)


def crash(dctl, step: str, *args) -> subprocess.CompletedProcess:
    cp = dctl(*args, env=dict(dctl.env, **{CRASH_VAR: step}))
    assert cp.returncode == -signal.SIGKILL, f"never reached step {step}: {cp}"
    return cp


@pytest.mark.parametrize("step", START_STEPS)
def test_start_killed_at_step(dctl, step):
    crash(dctl, step, "start", "-n", "c", SLEEP, "300")
    check_consistent(dctl, "c")
    dctl.start("c", SLEEP, "300")
    assert len(programs(dctl)) == 1


@pytest.mark.parametrize("step", START_STEPS[1:])
def test_start_from_record_killed_at_step(dctl, step):
    dctl.start("c", SLEEP, "300")
    assert_ok(dctl("stop", "c"))
    crash(dctl, step, "start", "-n", "c")
    check_consistent(dctl, "c")


@pytest.mark.parametrize("step", STOP_STEPS)
def test_stop_killed_at_step(dctl, step):
    dctl.start("c", SLEEP, "300")
    crash(dctl, step, "stop", "c")
    check_consistent(dctl, "c")


@pytest.mark.parametrize("step", RESTART_STEPS, ids=[s.replace("restart", "rs") for s in RESTART_STEPS])
def test_rs_killed_at_step(dctl, step):
    dctl.start("c", SLEEP, "300")
    crash(dctl, step, "restart", "c")
    check_consistent(dctl, "c")


def test_exec_failure_after_commit_is_rolled_back(dctl, tmp_path):
    prog = tmp_path / "prog"
    prog.write_text("#!/bin/sh\nexec sleep 300\n")
    prog.chmod(0o755)
    dctl.start("c", prog)
    assert_ok(dctl("stop", "c"))
    before = dctl.recordfile("c").read_bytes()
    prog.write_text("#!/nonexistent/interpreter\n")  # exec itself fails now
    cp = dctl("start", "-n", "c")
    assert cp.returncode == 5, cp
    assert dctl.recordfile("c").read_bytes() == before
    assert not dctl.pidfile("c").exists()


def test_setup_failure_after_commit_is_rolled_back(dctl, tmp_path):
    """The record is written while the grandchild sets itself up: a chdir that fails
    after that puts the previous record back and leaves no pidfile or process."""
    dctl.start("c", SLEEP, "300")
    assert_ok(dctl("stop", "c"))
    before = dctl.recordfile("c").read_bytes()
    cp = dctl("start", "-n", "c", "--chdir", str(tmp_path / "gone"))
    assert cp.returncode == 1, cp
    assert "cannot change directory" in cp.stderr
    assert dctl.recordfile("c").read_bytes() == before
    assert not dctl.pidfile("c").exists()
    assert programs(dctl) == []


def sweep(dctl, args, delays, before=None):
    for delay in delays:
        if before:
            before()
        proc = dctl.popen(*args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        check_consistent(dctl, "w")


DELAYS = [i * 0.02 for i in range(10)]


def test_start_sweep_of_kills(dctl):
    sweep(dctl, ["start", "-n", "w", SLEEP, "300"], DELAYS)


def test_stop_sweep_of_kills(dctl):
    sweep(dctl, ["stop", "w"], DELAYS, before=lambda: dctl.start("w", SLEEP, "300"))


def test_rs_sweep_of_kills(dctl):
    sweep(dctl, ["restart", "w"], DELAYS, before=lambda: dctl.start("w", SLEEP, "300"))
