"""CONTRACT "signal" and "status" with -p PIDFILE: a pidfile of any tool, or of a daemon of ours."""
import json
import os
import signal
from datetime import datetime
from pathlib import Path

import pytest

from .helpers import (
    CLK_TCK,
    PY,
    SIGNAL_LOGGER,
    SLEEP,
    alive,
    assert_ok,
    assert_one_error,
    cmdline,
    log_lines,
    proc_stat,
    wait_for,
)

pytestmark = pytest.mark.integration


def foreign_logger(dctl, tmp_path, survive: str = "") -> tuple[int, Path, Path]:
    """SIGNAL_LOGGER started by "another tool": its own pidfile, no record; (pid, pidfile, log)."""
    log = tmp_path / "foreign.log"
    with open(log, "w") as out:
        proc = dctl.spawn(PY, "-c", SIGNAL_LOGGER, survive, stdout=out, start_new_session=True)
    assert wait_for(lambda: "ready" in log_lines(log)), "logger not ready"
    pidfile = tmp_path / "foreign.pid"
    pidfile.write_text(f"{proc.pid}\n")
    return proc.pid, pidfile, log


def nothing_delivered(pid: int, log: Path) -> bool:
    """No signal reached the logger before now: a USR2 of ours is the first line after "ready".

    Python runs pending handlers lowest signal first, so an earlier TERM, HUP or USR1 would
    show before it; the logger must survive USR2.
    """
    os.kill(pid, signal.SIGUSR2)
    assert wait_for(lambda: "USR2" in log_lines(log)), "the logger did not log our USR2"
    return alive(pid) and log_lines(log) == ["ready", "USR2"]


# ---------------------------------------------------------------- signal -p

@pytest.mark.parametrize("order", ["option-first", "signal-first"])
def test_signal_p_sends_to_the_pid_of_a_foreign_pidfile(dctl, tmp_path, order):
    pid, pidfile, log = foreign_logger(dctl, tmp_path, survive="USR1")
    args = ["-p", pidfile, "USR1"] if order == "option-first" else ["USR1", "-p", pidfile]
    cp = dctl("signal", *args)
    assert_ok(cp)
    assert f"pid {pid}" in cp.stderr
    assert wait_for(lambda: log_lines(log) == ["ready", "USR1"])
    assert alive(pid)
    assert pidfile.read_text() == f"{pid}\n"  # signal changes no file


def test_signal_p_of_our_own_daemons_pidfile_goes_to_the_recorded_process(dctl):
    pid = dctl.start_logger("own", survive="USR2")
    assert_ok(dctl("signal", "-p", dctl.pidfile("own"), "SIGUSR2"))
    assert wait_for(lambda: log_lines(dctl.logfile("own")) == ["ready", "USR2"])
    assert alive(pid)


def test_signal_p_checks_identity_like_stop_p(dctl):
    """The pidfile of a recorded daemon whose PID now belongs to another process: not running (7)."""
    pid = dctl.start_logger("ident", survive="TERM,HUP,USR1,USR2")
    rec = dctl.record("ident")
    rec["starttime"] = int(rec["starttime"]) + 4242
    dctl.recordfile("ident").write_text(json.dumps(rec))
    assert_one_error(dctl("signal", "-p", dctl.pidfile("ident"), "USR1"), 7)
    assert nothing_delivered(pid, dctl.logfile("ident"))


def test_signal_p_exit_codes(dctl, tmp_path):
    pidfile = tmp_path / "x.pid"
    cp = dctl("signal", "-p", pidfile, "HUP")
    assert_one_error(cp, 7)                                              # no pidfile: not running
    assert f"there is no pidfile {pidfile}" in cp.stderr
    pidfile.write_text(f"{dead_pid()}\n")
    assert_one_error(dctl("signal", "-p", pidfile, "HUP"), 7)            # its process is gone
    pidfile.write_text("garbage\n")
    assert_one_error(dctl("signal", "-p", pidfile, "HUP"), 1)            # no valid PID
    pid, pidfile, log = foreign_logger(dctl, tmp_path, survive="TERM,HUP,USR1,USR2,INT")
    assert_one_error(dctl("signal", "-p", pidfile, "NOPE"), 2)           # unknown signal
    assert_one_error(dctl("signal", "-p", pidfile), 2)                   # no signal
    assert_one_error(dctl("signal", "-p", pidfile, "web", "HUP"), 2)     # both NAME and -p
    assert_one_error(dctl("signal", "-p", pidfile, "HUP", "USR1"), 2)
    assert_one_error(dctl("signal", "web"), 2)                           # NAME without a signal
    assert_one_error(dctl("signal"), 2)
    assert nothing_delivered(pid, log)


def dead_pid() -> int:
    import subprocess

    p = subprocess.Popen([SLEEP, "0"])
    p.wait()
    return p.pid


def test_signal_help_shows_both_forms(dctl):
    cp = dctl("signal", "--help")
    assert_ok(cp)
    assert "[NAME] SIGNAL" in cp.stdout and "-p, --pidfile" in cp.stdout


# ---------------------------------------------------------------- status -p of a foreign pidfile

def boot_time() -> int:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return int(line.split()[1])
    raise AssertionError("no btime in /proc/stat")


def test_status_p_of_a_foreign_pidfile_reads_command_and_start_from_proc(dctl, tmp_path):
    argv = [PY, "-c", "import time; time.sleep(300)", "extra arg"]
    proc = dctl.spawn(*argv, start_new_session=True)
    pidfile = tmp_path / "other.pid"
    pidfile.write_text(f"{proc.pid}\n")
    assert wait_for(lambda: cmdline(proc.pid) == argv)  # exec'd
    cp = dctl("status", "--json", "-p", pidfile)
    assert_ok(cp)
    data = json.loads(cp.stdout)
    assert data["state"] == "running" and data["pid"] == proc.pid
    assert data["command"] == argv
    started = boot_time() + proc_stat(proc.pid)["starttime"] / CLK_TCK
    # btime is recomputed (now - uptime) at each read and may move by a second; ISO cuts the fraction.
    assert abs(datetime.fromisoformat(data["started_at"]).timestamp() - started) <= 2
    assert datetime.fromisoformat(data["started_at"]).tzinfo is not None
    cp = dctl("status", "-p", pidfile)
    assert_ok(cp)
    assert "up -" not in cp.stdout and f"pid {proc.pid}, up " in cp.stdout


def test_status_p_of_a_dead_foreign_pid_has_no_command(dctl, tmp_path):
    pidfile = tmp_path / "other.pid"
    pidfile.write_text(f"{dead_pid()}\n")
    cp = dctl("status", "--json", "-p", pidfile)
    assert cp.returncode == 1
    data = json.loads(cp.stdout)
    assert data["state"] == "dead" and data["command"] == [] and data["started_at"] is None
