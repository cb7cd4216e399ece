"""CONTRACT "stop": schedules, process groups, pidfile/record handling, identity checks."""
import json
import os
import signal
import subprocess

import pytest

from .helpers import PY, SH, SLEEP, alive, assert_ok, assert_one_error, group_members, log_lines, proc_stat, wait_for, wait_gone

pytestmark = pytest.mark.integration


def test_stop_removes_pidfile_keeps_stopped_record(dctl):
    pid = dctl.start("web", SLEEP, "300")
    assert dctl.record("web")["state"] == "running"
    assert_ok(dctl("stop", "web"))
    assert not alive(pid)
    assert not dctl.pidfile("web").exists()
    assert dctl.record("web")["state"] == "stopped"


def test_stop_sends_hup_when_term_is_ignored(dctl):
    pid = dctl.start_logger("hup", survive="TERM")
    assert_ok(dctl("stop", "-t", "1", "hup"))
    assert not alive(pid)
    assert log_lines(dctl.logfile("hup")) == ["ready", "TERM", "HUP"]


def test_stop_kills_when_term_and_hup_are_ignored(dctl):
    pid = dctl.start_logger("kill", survive="TERM,HUP")
    assert_ok(dctl("stop", "-t", "0.5", "kill"))
    assert not alive(pid)
    assert log_lines(dctl.logfile("kill")) == ["ready", "TERM", "HUP"]
    assert not dctl.pidfile("kill").exists()


# Survives TERM; prints each signal it gets with the time (CLOCK_MONOTONIC, the same in
# every process), and exits on USR1.
STAMPED = r"""
import signal, sys, time
def on(num, frame):
    print(signal.Signals(num).name[3:], time.monotonic(), flush=True)
    if num == signal.SIGUSR1:
        sys.exit(0)
signal.signal(signal.SIGTERM, on)
signal.signal(signal.SIGUSR1, on)
print("ready", flush=True)
while True:
    time.sleep(60)
"""


def test_stop_sends_the_next_signal_when_the_wait_runs_out(dctl):
    """TERM/2/USR1/60: USR1 comes once the 2 s are over, not ten times later.

    Measured inside the daemon, between the two signals it receives: no daemonctl start-up
    time in it. The bound leaves a loaded machine 8 s of slack; a wait ten times too long
    is 20 s."""
    pid = dctl.start("late", PY, "-c", STAMPED)
    assert wait_for(lambda: "ready" in log_lines(dctl.logfile("late")))
    assert_ok(dctl("stop", "--schedule", "TERM/2/USR1/60", "late", timeout=90))
    assert not alive(pid)
    got = dict(line.split() for line in log_lines(dctl.logfile("late"))[1:])
    assert list(got) == ["TERM", "USR1"], got
    between = float(got["USR1"]) - float(got["TERM"])
    assert 1.5 < between < 10, f"USR1 came {between:.2f}s after TERM, the schedule says 2s"


@pytest.mark.parametrize("respawn", [[], ["--respawn"]], ids=["plain", "respawn"])
def test_stop_ends_its_wait_when_the_daemon_exits(dctl, respawn):
    """A daemon that exits on TERM: stop returns then, not when the 120 s step would end
    (daemonctl is given 60 s before the test fails)."""
    pid = dctl.start_logger("quick", opts=respawn)
    assert_ok(dctl("stop", "--schedule", "TERM/120/KILL/5", "quick", timeout=60))
    assert not alive(pid)
    assert log_lines(dctl.logfile("quick")) == ["ready", "TERM"]


@pytest.mark.parametrize("schedule", ["TERM/1/KILL/1", "-15/1/-9/1", "TERM/0.5/KILL/1"])
def test_stop_custom_schedule(dctl, schedule):
    pid = dctl.start_logger("sched", survive="TERM")
    assert_ok(dctl("stop", "--schedule", schedule, "sched"))
    assert not alive(pid)
    assert log_lines(dctl.logfile("sched")) == ["ready", "TERM"]  # no HUP: KILL ended it
    assert not dctl.pidfile("sched").exists()


def test_stop_schedule_exhausted_exits_1_and_daemon_keeps_running(dctl):
    pid = dctl.start_logger("stubborn", survive="TERM")
    cp = dctl("stop", "--schedule", "TERM/1", "stubborn")
    assert_one_error(cp, 1)
    assert alive(pid)
    assert dctl.pid("stubborn") == pid, "pidfile of a still running daemon was removed"
    assert dctl.record("stubborn")["state"] == "running"
    assert log_lines(dctl.logfile("stubborn")) == ["ready", "TERM"]


def test_stop_start_from_record_remove(dctl):
    pid = dctl.start("cycle", SLEEP, "300")
    assert_ok(dctl("stop", "-t", "1", "cycle"))
    assert not alive(pid)
    # start -n NAME without PROGRAM brings it back from the record
    cp = dctl("start", "-n", "cycle")
    assert_ok(cp)
    new = dctl.track(dctl.pid("cycle"))
    assert new != pid and alive(new)
    assert os.path.realpath(f"/proc/{new}/exe") == os.path.realpath(SLEEP)
    assert dctl.record("cycle")["state"] == "running"
    # remove refuses a running daemon
    assert_one_error(dctl("remove", "cycle"), 1)
    assert alive(new) and dctl.recordfile("cycle").exists()
    assert_ok(dctl("stop", "-t", "1", "cycle"))
    assert_ok(dctl("remove", "cycle"))
    assert not dctl.recordfile("cycle").exists()
    assert not dctl.pidfile("cycle").exists()
    assert dctl("status", "cycle").returncode == 3
    assert dctl("start", "-n", "cycle").returncode == 6  # forgotten: nothing to restart


def test_stop_not_running_is_success(dctl):
    dctl.start("twice", SLEEP, "300")
    assert_ok(dctl("stop", "twice"))
    cp = dctl("stop", "twice")
    assert_ok(cp)
    assert cp.stderr == "daemonctl: twice was not running\n"
    assert_ok(dctl("stop", "never-started"))


def test_stop_of_an_unknown_name_exits_0_and_says_the_name_is_unknown(dctl):
    """LSB: stopping what does not run succeeds; but a typo is named as such, as status names it."""
    dctl.start("web", SLEEP, "300")
    cp = dctl("stop", "wbe")
    assert_ok(cp)
    assert cp.stderr == f"daemonctl: no daemon named wbe in {dctl.state_dir}; nothing to stop\n"
    assert f"no daemon named wbe in {dctl.state_dir}" in dctl("status", "wbe").stderr
    assert not dctl.recordfile("wbe").exists() and not dctl.pidfile("wbe").exists()
    assert_ok(dctl("-q", "stop", "wbe"))
    assert dctl("-q", "stop", "wbe").stderr == ""


def test_stop_kills_whole_process_group(dctl):
    pid = dctl.start("grp", SH, "-c", "sleep 300 & sleep 300 & wait")
    assert wait_for(lambda: len(group_members(pid)) == 3)
    members = group_members(pid)
    assert_ok(dctl("stop", "-t", "1", "grp"))
    assert [m for m in members if alive(m)] == []
    assert group_members(pid) == []


def test_stop_group_member_ignoring_term_is_killed(dctl):
    """The leader dies on TERM but a child in its group ignores TERM and HUP."""
    child = ("import signal,time\n"
             "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
             "signal.signal(signal.SIGHUP, signal.SIG_IGN)\n"
             "print('child-ready', flush=True)\n"
             "while True: time.sleep(0.05)")
    pid = dctl.start("grp2", SH, "-c", '"$0" -c "$1" & wait', PY, child)
    assert wait_for(lambda: "child-ready" in log_lines(dctl.logfile("grp2")))
    members = group_members(pid)
    assert len(members) == 2
    assert_ok(dctl("stop", "-t", "0.5", "grp2"))
    assert [m for m in members if alive(m)] == []


# Runs argv[1:] (daemonctl start) as a child subreaper, prints its exit status, and then
# never waits for anything: every process of the daemon that ends stays its zombie, as
# under a container's PID 1 that does not reap.
NON_REAPING_PARENT = r"""
import ctypes, subprocess, sys, time
if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
    sys.exit("prctl failed")
print(subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL).returncode, flush=True)
time.sleep(600)
"""


def test_stop_returns_0_when_a_zombie_is_left_in_the_group(dctl):
    """A zombie only waiting to be reaped counts as gone: the daemon's leader and its
    child, both left unreaped by the parent they end up with."""
    parent = dctl.spawn(PY, "-c", NON_REAPING_PARENT,
                        *dctl.argv("start", "-n", "zomb", SH, "-c", "/bin/true & exec sleep 300"),
                        stdout=subprocess.PIPE, text=True)
    assert parent.stdout.readline() == "0\n"
    pid = dctl.track(dctl.pid("zomb"))

    def zombies():
        return {p for p in map(int, filter(str.isdigit, os.listdir("/proc")))
                if (proc_stat(p) or {}).get("pgrp") == pid and proc_stat(p)["state"] == "Z"}

    assert proc_stat(pid)["ppid"] == parent.pid, "setup: the daemon is the non-reaping parent's child"
    assert wait_for(zombies), "setup: expected a zombie child of the daemon"
    assert_ok(dctl("stop", "-t", "2", "zomb"))
    assert zombies() >= {pid}, "setup: nobody may reap the daemon here"
    assert len(zombies()) == 2 and group_members(pid) == []
    assert dctl("status", "zomb").returncode == 3
    assert_ok(dctl("start", "-n", "zomb"))
    assert alive(dctl.track(dctl.pid("zomb")))


@pytest.mark.parametrize("reused_in", ["pidfile", "pidfile-and-record"])
def test_stop_pid_reuse_signals_nothing(dctl, reused_in):
    """The daemon died and its PID went to another process (a group leader too): the
    pidfile, and in the second case the record as well, name that process, but only
    the start time tells it from the daemon."""
    pid = dctl.start("reuse", SLEEP, "300")
    os.kill(pid, signal.SIGKILL)
    assert wait_gone(pid)
    canary = dctl.spawn(SLEEP, "300", start_new_session=True)
    dctl.pidfile("reuse").write_text(f"{canary.pid}\n")
    if reused_in == "pidfile-and-record":
        rec = dctl.record("reuse")
        rec["pid"] = canary.pid
        dctl.recordfile("reuse").write_text(json.dumps(rec))
    assert dctl("status", "reuse").returncode in (1, 3)
    assert_one_error(dctl("signal", "reuse", "TERM"), 7)
    assert alive(canary.pid), "signal reached a foreign process"
    cp = dctl("stop", "-t", "0.5", "reuse")
    assert_ok(cp)
    assert cp.stderr.strip(), "stop did not say that the pidfile was stale"
    assert canary.poll() is None and alive(canary.pid), "stop signalled a foreign process"
    if reused_in == "pidfile":
        # Rewritten by someone else, not daemonctl's: left alone (issue 14), and said so.
        assert dctl.pidfile("reuse").read_text() == f"{canary.pid}\n"
        assert "left it alone" in cp.stderr
    else:
        assert not dctl.pidfile("reuse").exists(), "stale pidfile not removed"
    assert dctl("status", "reuse").returncode == 3
    assert canary.poll() is None


def test_stop_and_signal_with_record_identity_mismatch_signal_nothing(dctl):
    pid = dctl.start_logger("ident", survive="TERM,HUP,USR1")
    rec = dctl.record("ident")
    rec["starttime"] = int(rec["starttime"]) + 4242
    dctl.recordfile("ident").write_text(json.dumps(rec))
    cp = dctl("signal", "ident", "USR1")
    assert cp.returncode == 7, cp
    cp = dctl("stop", "-t", "0.5", "ident")
    assert_ok(cp)
    assert cp.stderr.strip()
    assert alive(pid), "stop signalled a process whose identity does not match the record"
    assert log_lines(dctl.logfile("ident")) == ["ready"], "a signal was delivered"
    assert not dctl.pidfile("ident").exists()


def test_stop_foreign_pidfile_without_record(dctl, tmp_path):
    """-p PIDFILE written by another tool: stop acts on that PID, removes the pidfile.
    The process is our child, so it stays a zombie until we reap it: counts as gone."""
    proc = dctl.spawn(SLEEP, "300", start_new_session=True)
    pidfile = tmp_path / "foreign.pid"
    pidfile.write_text(f"{proc.pid}\n")
    assert dctl("status", "-p", pidfile).returncode == 0
    assert_ok(dctl("stop", "-t", "1", "-p", pidfile))
    assert not alive(proc.pid)
    assert proc.wait(timeout=5) == -signal.SIGTERM
    assert not pidfile.exists()
    assert dctl("status", "-p", pidfile).returncode == 3


def test_stop_with_custom_pidfile_by_name(dctl, tmp_path):
    pidfile = tmp_path / "custom.pid"
    pid = dctl.start("cust", SLEEP, "300", pidfile=pidfile)
    assert not dctl.pidfile("cust").exists()
    assert dctl("status", "cust").returncode == 0
    assert_ok(dctl("stop", "cust"))
    assert not alive(pid) and not pidfile.exists()
