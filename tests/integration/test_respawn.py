"""CONTRACT "Supervision (`start --respawn`)": restarts, backoff, give-up, stop, signal,
a killed supervisor, restart, and the program's hygiene under the supervisor."""
import json
import os
import signal
from itertools import pairwise

import pytest

from .helpers import (
    PY,
    SH,
    SIGNAL_LOGGER,
    SLEEP,
    alive,
    assert_ok,
    environ,
    log_lines,
    proc_stat,
    proc_status,
    wait_for,
    wait_gone,
)

pytestmark = pytest.mark.integration

FAST = ["--restart-delay", "0.1", "--restart-delay-max", "0.4"]


def start_quick(dctl, name, *program, opts=()):
    """Start a program that may be over before start returns: the supervisor from the record."""
    assert_ok(dctl("start", "-n", name, "--respawn", *opts, *program))
    return dctl.track(dctl.record(name)["supervisor_pid"])


def program_pid(dctl, name):
    return dctl.record(name)["pid"]


def state_of(dctl, name):
    cp = dctl("status", "--json", name)
    return json.loads(cp.stdout), cp.returncode


def start_supervised(dctl, name, *program, opts=(), **kw):
    sup = dctl.start(name, *program, opts=["--respawn", *opts], **kw)
    prog = dctl.track(program_pid(dctl, name))
    return sup, prog


def test_killed_program_comes_back_with_new_pid(dctl):
    sup, prog = start_supervised(dctl, "r", SLEEP, "300", opts=FAST)
    assert sup != prog and proc_stat(prog)["ppid"] == sup
    os.kill(prog, signal.SIGKILL)
    assert wait_for(lambda: program_pid(dctl, "r") != prog and dctl.record("r")["state"] == "running")
    new = dctl.track(program_pid(dctl, "r"))
    assert alive(new) and proc_stat(new)["ppid"] == sup
    obj, code = state_of(dctl, "r")
    assert code == 0 and obj["state"] == "running" and obj["pid"] == new
    assert obj["supervisor_pid"] == sup and obj["restarts"] == 1
    assert obj["last_exit"]["signal"] == signal.SIGKILL and "T" in obj["last_exit"]["at"]
    assert dctl.pid("r") == sup  # the pidfile holds the supervisor


def test_exit_0_under_on_failure_is_not_restarted(dctl):
    sup = start_quick(dctl, "once", SH, "-c", "echo ran; exit 0")
    assert wait_gone(sup)
    assert wait_for(lambda: dctl.record("once")["state"] == "exited")
    obj, code = state_of(dctl, "once")
    assert code == 3 and obj["state"] == "exited" and obj["restarts"] == 0
    assert obj["last_exit"]["code"] == 0
    assert log_lines(dctl.logfile("once")) == ["ran"]
    assert not dctl.pidfile("once").exists()


def test_crash_loop_backs_off_and_ends_failed(dctl):
    sup = start_quick(dctl, "loop", SH, "-c", "echo run; exit 3",
                      opts=[*FAST, "--min-uptime", "5", "--max-restarts", "3"])
    assert wait_gone(sup, timeout=30)
    assert wait_for(lambda: dctl.record("loop")["state"] == "failed")
    obj, code = state_of(dctl, "loop")
    assert code == 3 and obj["restarts"] == 3 and obj["last_exit"]["code"] == 3
    assert log_lines(dctl.logfile("loop")) == ["run"] * 4
    assert not dctl.pidfile("loop").exists()
    assert "failed" in dctl("status", "loop").stdout


def test_quick_failures_double_the_restart_delay(dctl):
    """Each run prints when it starts (CLOCK_MONOTONIC) and fails at once: the gaps between
    starts are at least 1, 2 and 4 s (only lower bounds: the load adds, never subtracts)."""
    stamp = [PY, "-c", "import time; print(time.monotonic(), flush=True); raise SystemExit(3)"]
    sup = start_quick(dctl, "dbl", *stamp, opts=["--restart-delay", "1", "--restart-delay-max", "60",
                                                 "--min-uptime", "30", "--max-restarts", "3"])
    assert wait_gone(sup, timeout=60)
    assert wait_for(lambda: dctl.record("dbl")["state"] == "failed")
    obj, code = state_of(dctl, "dbl")
    assert code == 3 and obj["restarts"] == 3 and obj["last_exit"]["code"] == 3
    starts = [float(line) for line in log_lines(dctl.logfile("dbl"))]
    assert len(starts) == 4, starts
    gaps = [later - earlier for earlier, later in pairwise(starts)]
    assert [gap >= delay for gap, delay in zip(gaps, [1, 2, 4], strict=True)] == [True] * 3, gaps


def test_a_crashed_programs_group_is_killed_before_the_restart(dctl):
    """The program exits leaving three children in its group: the supervisor kills them
    before it waits out the restart delay (60 s: the next run cannot have started)."""
    prog = [SH, "-c", "for i in 1 2 3; do sleep 300 & done; echo started; exit 3"]
    sup = start_quick(dctl, "orph", *prog, opts=["--restart-delay", "60"])
    assert wait_for(lambda: dctl.record("orph")["state"] == "restarting")
    assert log_lines(dctl.logfile("orph")) == ["started"]
    assert wait_for(lambda: dctl.token_pids() == [sup], timeout=10), \
        f"left of the crashed run: {[(p, proc_stat(p)) for p in dctl.token_pids() if p != sup]}"


def test_waiting_out_a_delay_is_restarting_and_exits_0(dctl):
    sup = start_quick(dctl, "slow", SH, "-c", "exit 1", opts=["--restart-delay", "60"])
    assert wait_for(lambda: dctl.record("slow")["state"] == "restarting")
    obj, code = state_of(dctl, "slow")
    assert code == 0 and obj["state"] == "restarting" and obj["supervisor_pid"] == sup
    assert obj["last_exit"]["code"] == 1
    cp = dctl("stop", "slow")
    assert_ok(cp)
    # No program runs while it waits: the message names the supervisor, never "pid None".
    assert cp.stderr.strip() == f"daemonctl: stopped slow (supervisor pid {sup}); start it again with daemonctl start -n slow"
    assert not alive(sup) and dctl.record("slow")["state"] == "stopped"


def test_stop_leaves_neither_supervisor_nor_program(dctl):
    sup, prog = start_supervised(dctl, "s", SH, "-c", "sleep 300 & sleep 300 & wait", opts=FAST)
    assert wait_for(lambda: len([p for p in dctl.token_pids() if proc_stat(p)["pgrp"] == prog]) == 3)
    assert_ok(dctl("stop", "-t", "5", "s"))
    assert not alive(sup) and not alive(prog)
    assert dctl.token_pids() == []
    assert not dctl.pidfile("s").exists()
    assert dctl.record("s")["state"] == "stopped"
    assert dctl("status", "s").returncode == 3


def test_stop_applies_the_schedule_to_the_program(dctl):
    sup = dctl.start("sched", PY, "-c", SIGNAL_LOGGER, "TERM", opts=["--respawn", *FAST])
    assert wait_for(lambda: "ready" in log_lines(dctl.logfile("sched")))
    assert_ok(dctl("stop", "--schedule", "TERM/0.5/USR1/5", "sched"))
    assert log_lines(dctl.logfile("sched")) == ["ready", "TERM", "USR1"]
    assert not alive(sup) and dctl.token_pids() == []


def test_signal_goes_to_the_program(dctl):
    sup = dctl.start("sig", PY, "-c", SIGNAL_LOGGER, "HUP", opts=["--respawn"])
    assert wait_for(lambda: "ready" in log_lines(dctl.logfile("sig")))
    prog = program_pid(dctl, "sig")
    cp = dctl("signal", "sig", "HUP")
    assert_ok(cp)
    assert str(prog) in cp.stderr
    assert wait_for(lambda: "HUP" in log_lines(dctl.logfile("sig")))
    assert alive(prog) and alive(sup)


def test_supervisor_killed_then_status_stop(dctl):
    sup, prog = start_supervised(dctl, "k", SLEEP, "300")
    os.kill(sup, signal.SIGKILL)
    assert wait_gone(sup)
    cp = dctl("status", "k")
    assert cp.returncode == 1 and str(prog) in cp.stdout
    obj, code = state_of(dctl, "k")
    assert code == 1 and obj["state"] == "dead" and obj["pid"] == prog
    assert_ok(dctl("stop", "k"))
    assert not alive(prog) and dctl.token_pids() == []
    assert dctl("status", "k").returncode == 3


def test_supervisor_killed_then_start_never_runs_two_programs(dctl):
    sup, prog = start_supervised(dctl, "k2", SLEEP, "300")
    os.kill(sup, signal.SIGKILL)
    assert wait_gone(sup)
    assert_ok(dctl("start", "-n", "k2"))
    new_sup, new_prog = dctl.track(dctl.pid("k2")), dctl.track(program_pid(dctl, "k2"))
    assert not alive(prog) and alive(new_prog) and new_prog != prog
    sleepers = [p for p in dctl.token_pids() if os.path.basename(os.readlink(f"/proc/{p}/exe")) == "sleep"]
    assert sleepers == [new_prog]
    assert proc_stat(new_prog)["ppid"] == new_sup


def test_supervisor_sigterm_stops_program_without_restart(dctl):
    sup, prog = start_supervised(dctl, "t", SLEEP, "300", opts=FAST)
    os.kill(sup, signal.SIGTERM)
    assert wait_gone(sup) and wait_gone(prog)
    assert wait_for(lambda: dctl.record("t")["state"] == "stopped")
    assert dctl.token_pids() == [] and not dctl.pidfile("t").exists()


def test_restart_gives_fresh_supervisor_and_count_0(dctl):
    sup, prog = start_supervised(dctl, "rs", SLEEP, "300", opts=FAST)
    os.kill(prog, signal.SIGKILL)
    assert wait_for(lambda: dctl.record("rs")["restarts"] == 1 and dctl.record("rs")["state"] == "running")
    assert_ok(dctl("restart", "-t", "2", "rs"))
    new_sup, new_prog = dctl.track(dctl.pid("rs")), dctl.track(program_pid(dctl, "rs"))
    assert new_sup != sup and not alive(sup) and alive(new_sup) and alive(new_prog)
    rec = dctl.record("rs")
    assert rec["restarts"] == 0 and rec["respawn"] == "on-failure" and rec["restart_delay"] == 0.1


def test_start_again_from_record_keeps_supervision(dctl):
    start_supervised(dctl, "again", SLEEP, "300", opts=["--respawn=always", "--max-restarts", "4"])
    assert_ok(dctl("stop", "again"))
    assert_ok(dctl("start", "-n", "again"))
    sup = dctl.track(dctl.pid("again"))
    rec = dctl.record("again")
    assert rec["supervisor_pid"] == sup and rec["respawn"] == "always" and rec["max_restarts"] == 4


def test_program_hygiene_under_the_supervisor(dctl, tmp_path):
    sup, prog = start_supervised(dctl, "h", SLEEP, "300", opts=["-d", tmp_path, "--umask", "027"])
    st, sst = proc_stat(prog), proc_stat(sup)
    assert st["ppid"] == sup and st["pgrp"] == prog and st["session"] == sst["session"]
    assert st["session"] != os.getsid(0) and st["session"] != prog and st["tty_nr"] == 0
    assert sorted(os.listdir(f"/proc/{prog}/fd")) == ["0", "1", "2"]
    status = proc_status(prog)
    assert int(status["SigIgn"], 16) == 0 and int(status["SigBlk"], 16) == 0
    assert "Umask:\t0027" in open(f"/proc/{prog}/status").read()
    assert os.readlink(f"/proc/{prog}/cwd") == str(tmp_path)
    assert os.readlink(f"/proc/{prog}/fd/0") == "/dev/null"
    assert os.readlink(f"/proc/{prog}/fd/1") == str(dctl.logfile("h"))
    assert "DAEMONCTL_SUPERVISE" not in environ(prog)
    # the supervisor: detached, no terminal, lean
    assert sst["tty_nr"] == 0 and sst["session"] != os.getsid(0)
    maps = open(f"/proc/{sup}/maps").read()
    assert "psutil" not in maps


def test_respawn_options_need_respawn(dctl):
    cp = dctl("start", "-n", "x", "--restart-delay", "1", SLEEP, "300")
    assert cp.returncode == 2 and "needs --respawn" in cp.stderr
    assert not dctl.recordfile("x").exists()


def test_bare_respawn_before_program(dctl):
    cp = dctl("start", "-n", "bare", "--respawn", SLEEP, "300")
    assert_ok(cp)
    dctl.track(dctl.pid("bare"))
    assert dctl.record("bare")["respawn"] == "on-failure"


def test_a_supervisor_that_cannot_go_on_gives_the_program_up_without_a_traceback(dctl):
    # Recording the program's end raises an OSError nothing expects (DAEMONCTL_TEST_FAIL_AT, as a
    # broken record, cgroup or log would): the supervisor gives up as the policy does, and says why.
    env = {**dctl.env, "DAEMONCTL_TEST_FAIL_AT": "supervisor:ended"}
    sup, prog = start_supervised(dctl, "r", SLEEP, "300", opts=FAST, env=env)
    os.kill(prog, signal.SIGKILL)
    assert wait_gone(sup), "the supervisor went on"
    lines = log_lines(dctl.logfile("r"))
    assert not any("Traceback" in ln for ln in lines), lines
    assert [ln for ln in lines if "supervisor" in ln] == [
        "daemonctl: supervisor: giving up: Input/output error (injected at supervisor:ended)"]
    obj, code = state_of(dctl, "r")
    assert code == 3 and obj["state"] == "failed"
    assert not dctl.pidfile("r").exists()
