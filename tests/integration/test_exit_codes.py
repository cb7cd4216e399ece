"""CONTRACT "Exit status": every code of the table that is not about bad input
(bad input and start's 1/2/5/6 are in test_bad_input.py)."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from .helpers import SLEEP, alive, assert_ok, assert_one_error, error_lines, log_lines, wait_for, wait_gone

pytestmark = pytest.mark.integration


def dead_pid(dctl) -> int:
    p = subprocess.Popen([SLEEP, "0"])
    p.wait()
    return p.pid


# ---------------------------------------------------------------- start / restart

def test_start_already_running_exits_0_same_pid(dctl):
    pid = dctl.start("web", SLEEP, "300")
    cp = dctl("start", "-n", "web", SLEEP, "300")
    assert_ok(cp)
    assert error_lines(cp.stderr) == []
    assert dctl.pid("web") == pid
    assert len([p for p in dctl.token_pids() if Path(f"/proc/{p}/exe").resolve()
                == Path(SLEEP).resolve()]) == 1


def test_start_default_name_is_program_basename(dctl):
    cp = dctl("start", SLEEP, "300")
    assert_ok(cp)
    pid = dctl.track(dctl.pid("sleep"))
    assert dctl.record("sleep")["name"] == "sleep"
    assert alive(pid)


def test_restart_exit_codes(dctl):
    assert dctl("restart", "nothing").returncode == 6
    assert not dctl.recordfile("nothing").exists()
    pid = dctl.start("r", SLEEP, "300")
    assert_ok(dctl("restart", "-t", "1", "r"))          # running -> new process
    pid2 = dctl.track(dctl.pid("r"))
    assert pid2 != pid and alive(pid2) and not alive(pid)
    assert_ok(dctl("stop", "r"))
    assert_ok(dctl("restart", "r"))                       # stopped -> running
    pid3 = dctl.track(dctl.pid("r"))
    assert alive(pid3)
    os.kill(pid3, signal.SIGKILL)
    assert wait_gone(pid3)
    assert_ok(dctl("restart", "r"))                       # dead -> running
    assert alive(dctl.track(dctl.pid("r")))


# ---------------------------------------------------------------- stop

def test_stop_exit_codes(dctl):
    dctl.start_logger("s", survive="TERM")
    assert_one_error(dctl("stop", "--schedule", "TERM/0.5", "s"), 1)  # still running
    assert_ok(dctl("stop", "-t", "0.5", "s"))                          # stopped
    assert_ok(dctl("stop", "s"))                                       # was not running
    assert_one_error(dctl("stop", "-t", "-1", "s"), 2)                 # bad usage


# ---------------------------------------------------------------- status

def test_status_exit_codes_by_name(dctl):
    assert dctl("status", "ghost").returncode == 3               # never heard of
    pid = dctl.start("st", SLEEP, "300")
    cp = dctl("status", "st")
    assert_ok(cp)
    assert "st" in cp.stdout and str(pid) in cp.stdout
    os.kill(pid, signal.SIGKILL)
    assert wait_gone(pid)
    assert dctl("status", "st").returncode == 1                  # dead, pidfile exists
    assert dctl.pidfile("st").exists()
    assert_ok(dctl("stop", "st"))                                # cleans up the dead one
    assert not dctl.pidfile("st").exists()
    assert dctl("status", "st").returncode == 3                  # stopped
    assert_one_error(dctl("status", "--bogus-option", "st"), 2)


def test_status_exit_codes_by_pidfile(dctl, tmp_path):
    pf = tmp_path / "x.pid"
    assert dctl("status", "-p", pf).returncode == 3               # no pidfile
    canary = dctl.spawn(SLEEP, "300")
    pf.write_text(f"{canary.pid}\n")
    assert dctl("status", "-p", pf).returncode == 0               # alive
    pf.write_text(f"{dead_pid(dctl)}\n")
    assert dctl("status", "-p", pf).returncode == 1               # dead, pidfile exists
    pf.write_text("garbage\n")
    assert dctl("status", "-p", pf).returncode == 4               # invalid
    assert dctl("status", "-p", tmp_path).returncode == 4         # unreadable (a directory)
    assert canary.poll() is None


# ---------------------------------------------------------------- signal

@pytest.mark.parametrize("spec", ["USR1", "SIGUSR1", str(int(signal.SIGUSR1))])
def test_signal_sent(dctl, spec):
    pid = dctl.start_logger("sig", survive="USR1")
    assert_ok(dctl("signal", "sig", spec))
    assert wait_for(lambda: "USR1" in log_lines(dctl.logfile("sig")))
    assert alive(pid)


def test_signal_hup_reload(dctl):
    pid = dctl.start_logger("rl")
    assert_ok(dctl("signal", "rl", "HUP"))
    assert wait_gone(pid)
    assert log_lines(dctl.logfile("rl")) == ["ready", "HUP"]


@pytest.mark.parametrize("spec", ["NOPE", "SIGNOPE", "999", ""])
def test_signal_unknown_exits_2(dctl, spec):
    pid = dctl.start_logger("sig2", survive="TERM,HUP,USR1,USR2,INT")
    assert_one_error(dctl("signal", "sig2", spec), 2)
    assert alive(pid)
    assert log_lines(dctl.logfile("sig2")) == ["ready"]


def test_signal_not_running_exits_7(dctl):
    assert_one_error(dctl("signal", "ghost", "HUP"), 7)
    pid = dctl.start("gone", SLEEP, "300")
    os.kill(pid, signal.SIGKILL)
    assert wait_gone(pid)
    assert_one_error(dctl("signal", "gone", "HUP"), 7)             # dead
    assert_ok(dctl("stop", "gone"))
    assert_one_error(dctl("signal", "gone", "HUP"), 7)             # stopped


# ---------------------------------------------------------------- remove

def test_remove_unknown_before_state_dir_exists(dctl):
    assert not dctl.state_dir.exists()
    assert_one_error(dctl("remove", "ghost"), 2)


def test_remove_exit_codes(dctl):
    dctl.start("rm", SLEEP, "300")
    assert_one_error(dctl("remove", "ghost"), 2)
    assert_one_error(dctl("remove", "rm"), 1)
    assert dctl.recordfile("rm").exists() and dctl.pidfile("rm").exists()
    assert_ok(dctl("stop", "rm"))
    assert_ok(dctl("remove", "rm"))
    assert not dctl.recordfile("rm").exists()
    assert_one_error(dctl("remove", "rm"), 2)
    assert_one_error(dctl("remove", ".bad"), 2)


# ---------------------------------------------------------------- 4: insufficient privilege



@pytest.fixture
def shared(dctl, nobody_daemonctl):
    """A state dir that user nobody can read, plus a runner for daemonctl as nobody."""
    path = Path(tempfile.mkdtemp(prefix="dctl-itest-"))
    path.chmod(0o755)
    root = dctl.with_state_dir(path)
    root.nobody_exe = nobody_daemonctl

    def open_up():
        for f in path.iterdir():
            f.chmod(0o666 if f.suffix == ".lock" else 0o644)

    def as_nobody(*args):
        return subprocess.run(root.nobody_argv(*args), capture_output=True, text=True,
                              timeout=30, env=root.env, stdin=subprocess.DEVNULL)

    yield root, open_up, as_nobody
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("cmd", [["stop", "-t", "0.5", "rootd"], ["signal", "rootd", "TERM"],
                                 ["restart", "-t", "0.5", "rootd"]])
def test_insufficient_privilege_exits_4(shared, cmd):
    root, open_up, as_nobody = shared
    pid = root.start_logger("rootd")
    open_up()
    assert_one_error(as_nobody(*cmd), 4)
    assert alive(pid)
    assert root.pid("rootd") == pid
    assert log_lines(root.logfile("rootd")) == ["ready"]


# The record is mode 0600 (it holds --env values): a user who may not read it may not act
# on the daemon. That is insufficient privilege (4) wherever the command's table has a 4;
# status's 4 is "status unknown", and remove's table has none (1).
@pytest.mark.parametrize("cmd,code", [
    (["stop", "-t", "0.5", "rootd"], 4),
    (["signal", "rootd", "TERM"], 4),
    (["stop", "-t", "0.5", "-p", "{pidfile}"], 4),
    (["signal", "-p", "{pidfile}", "TERM"], 4),
    (["restart", "-t", "0.5", "rootd"], 4),
    (["start", "-n", "rootd"], 4),
    (["status", "rootd"], 4),
    (["status", "-p", "{pidfile}"], 4),
    (["export", "systemd", "rootd"], 4),
    (["logs", "rootd"], 4),
    (["remove", "rootd"], 1),
])
def test_a_record_the_caller_cannot_read_is_insufficient_privilege(shared, cmd, code):
    root, _, as_nobody = shared
    pid = root.start_logger("rootd")
    assert oct(root.recordfile("rootd").stat().st_mode & 0o777) == "0o600"
    root.state_dir.joinpath("rootd.lock").chmod(0o666)  # so the lock is not what stops nobody
    cp = as_nobody(*[a.format(pidfile=root.pidfile("rootd")) for a in cmd])
    assert_one_error(cp, code)
    assert f"record of rootd ({root.recordfile('rootd')})" in cp.stderr
    assert "Permission denied" in cp.stderr
    assert alive(pid) and root.pid("rootd") == pid
    assert log_lines(root.logfile("rootd")) == ["ready"]


# ---------------------------------------------------------------- a PID no process can have

@pytest.mark.parametrize("content", ["4194304", "99999999999", "9" * 40])
def test_a_pid_beyond_the_kernels_limit_is_no_valid_pid(dctl, tmp_path, content):
    """Linux never gives a PID of 2**22 or more: the pidfile holds no valid PID, it is not "dead"."""
    pf = tmp_path / "x.pid"
    pf.write_text(content + "\n")
    cp = dctl("status", "-p", pf)
    assert_one_error(cp, 4)                                   # status unknown
    assert f"pidfile {pf} holds {content}" in cp.stderr and "no pidfile" not in cp.stderr
    cp = dctl("status", "--json", "-p", pf)
    assert cp.returncode == 4 and f"holds {content}" in cp.stderr
    assert_one_error(dctl("signal", "-p", pf, "HUP"), 1)       # generic failure
    assert_one_error(dctl("stop", "-p", pf), 1)                # the pidfile holds no valid PID
    assert pf.read_text() == content + "\n"                    # and stays, for a person to look at


@pytest.mark.parametrize("cmd,code", [(["stop", "-t", "0.5", "-p", "{pidfile}"], 4),
                                      (["signal", "-p", "{pidfile}", "TERM"], 4),
                                      (["status", "-p", "{pidfile}"], 4)])
def test_a_pidfile_the_caller_cannot_read_is_insufficient_privilege(shared, dctl, cmd, code):
    """Not "the pidfile holds no valid PID" (stop's and signal's 1): nobody may not read it."""
    root, _, as_nobody = shared
    canary = dctl.spawn(SLEEP, "300", start_new_session=True)
    pidfile = root.state_dir / "other.pid"
    pidfile.write_text(f"{canary.pid}\n")
    pidfile.chmod(0o600)
    cp = as_nobody(*[a.format(pidfile=pidfile) for a in cmd])
    assert_one_error(cp, code)
    assert f"pidfile {pidfile} cannot be read: Permission denied" in cp.stderr
    assert canary.poll() is None and pidfile.exists()


@pytest.mark.parametrize("cmd,code", [(["stop", "-t", "0.5", "bad"], 1), (["stop", "-t", "0.5", "-p", "{pidfile}"], 1),
                                      (["signal", "bad", "TERM"], 1),
                                      (["signal", "-p", "{pidfile}", "TERM"], 1), (["remove", "bad"], 1),
                                      (["status", "bad"], 4), (["status", "-p", "{pidfile}"], 4)])
def test_a_corrupt_record_is_a_failure_and_status_unknown(dctl, cmd, code):
    """CONTRACT Trust: one line and exit 4 from status, 1 from the others; nothing is signalled."""
    pid = dctl.start_logger("bad", survive="TERM,HUP")
    rec = dctl.record("bad")
    rec["command"] = []  # no program: the record is corrupt, whoever the pidfile names
    dctl.recordfile("bad").write_text(json.dumps(rec))
    text = dctl.recordfile("bad").read_text()
    cp = dctl(*[a.format(pidfile=dctl.pidfile("bad")) for a in cmd])
    assert_one_error(cp, code)
    assert f"the record of bad ({dctl.recordfile('bad')}) is corrupt" in cp.stderr
    assert alive(pid) and log_lines(dctl.logfile("bad")) == ["ready"]
    assert dctl.recordfile("bad").read_text() == text and dctl.pidfile("bad").exists()
