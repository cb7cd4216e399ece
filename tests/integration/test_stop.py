"""CONTRACT "stop": schedules, process groups, pidfile/record handling, identity checks."""
import json
import os
import signal

import pytest

from .conftest import (PY, SH, SLEEP, alive, assert_ok, assert_one_error, group_members, log_lines,
                       proc_stat, wait_for, wait_gone)

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


def test_stop_returns_0_when_a_zombie_is_left_in_the_group(dctl):
    """A zombie only waiting to be reaped counts as gone."""
    pid = dctl.start("zomb", SH, "-c", "/bin/true & exec sleep 300")

    def zombie_in_group():
        for p in map(int, filter(str.isdigit, os.listdir("/proc"))):
            st = proc_stat(p)
            if st and st["pgrp"] == pid and st["state"] == "Z":
                return True
        return False

    assert wait_for(zombie_in_group), "setup: expected a zombie child of the daemon"
    assert_ok(dctl("stop", "-t", "2", "zomb"))
    assert not alive(pid)
    assert dctl("status", "zomb").returncode == 3


def test_stop_pid_reuse_signals_nothing(dctl):
    pid = dctl.start("reuse", SLEEP, "300")
    os.kill(pid, signal.SIGKILL)
    assert wait_gone(pid)
    canary = dctl.spawn(SLEEP, "300", start_new_session=True)  # also a group leader
    dctl.pidfile("reuse").write_text(f"{canary.pid}\n")
    assert dctl("status", "reuse").returncode in (1, 3)
    cp = dctl("stop", "-t", "0.5", "reuse")
    assert_ok(cp)
    assert cp.stderr.strip(), "stop did not say that the pidfile was stale"
    assert canary.poll() is None and alive(canary.pid), "stop signalled a foreign process"
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
