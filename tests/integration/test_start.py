"""CONTRACT "Commands"/"start options": argument passthrough, PATH lookup, concurrent
starts, starting again after death or over a stale pidfile, --help and --version."""
import os
import subprocess

import pytest

from .helpers import PY, SLEEP, alive, assert_ok, cmdline, log_lines, proc_stat, wait_for

pytestmark = pytest.mark.integration

ARGV_PRINTER = "import sys, time; print(sys.argv[1:], flush=True); time.sleep(300)"
PASSTHROUGH = ["--name", "x", "-n", "y", "-o", "/tmp/nope.log", "--", "", "a b", "--help"]


@pytest.mark.parametrize("sep", [[], ["--"]], ids=["no-dashdash", "dashdash"])
def test_program_arguments_passed_untouched(dctl, sep):
    pid = dctl.start("web", *sep, PY, "-c", ARGV_PRINTER, *PASSTHROUGH)
    assert cmdline(pid) == [PY, "-c", ARGV_PRINTER, *PASSTHROUGH]
    assert wait_for(lambda: log_lines(dctl.logfile("web")))
    assert log_lines(dctl.logfile("web")) == [repr(PASSTHROUGH)]
    assert not os.path.exists("/tmp/nope.log")
    assert dctl.record("web")["command"] == [PY, "-c", ARGV_PRINTER, *PASSTHROUGH]


def test_program_exits_and_log_shows_its_argv(dctl):
    code = "import sys; print(sys.argv[1:], flush=True)"
    assert_ok(dctl("start", "-n", "web", PY, "-c", code, "--name", "x", "-n", "y"))
    assert wait_for(lambda: log_lines(dctl.logfile("web")))
    assert log_lines(dctl.logfile("web")) == [repr(["--name", "x", "-n", "y"])]


def test_program_looked_up_in_path(dctl):
    pid = dctl.start("p", "sleep", "300")
    assert os.path.realpath(f"/proc/{pid}/exe") == os.path.realpath(SLEEP)
    rec = dctl.record("p")
    assert os.path.isabs(rec["executable"])
    assert os.path.realpath(rec["executable"]) == os.path.realpath(SLEEP)


def test_concurrent_starts_start_exactly_one(dctl):
    arg = "3001"
    procs = [dctl.popen("start", "-n", "same", SLEEP, arg, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, text=True) for _ in range(8)]
    results = [(*p.communicate(timeout=60), p.returncode) for p in procs]
    for out, err, rc in results:
        assert rc == 0 and "Traceback" not in err, (rc, out, err)
    pid = dctl.track(dctl.pid("same"))

    def sleepers():
        return [p for p in dctl.token_pids() if cmdline(p)[1:] == [arg]]

    assert sleepers() == [pid]
    assert proc_stat(pid)["pgrp"] == pid and alive(pid)
    assert dctl.record("same")["pid"] == pid


@pytest.mark.parametrize("cmd", [[], ["start"], ["stop"], ["restart"], ["status"], ["signal"],
                                 ["logs"], ["remove"]])
def test_help_on_every_command(dctl, cmd):
    cp = dctl(*cmd, "--help")
    assert_ok(cp)
    assert cp.stdout.strip()


def test_version(dctl):
    cp = dctl("--version")
    assert_ok(cp)
    assert cp.stdout.strip()


def test_start_after_the_daemon_died(dctl):
    pid = dctl.start("d", SLEEP, "300")
    os.kill(pid, 9)
    assert wait_for(lambda: not alive(pid))
    cp = dctl("start", "-n", "d", SLEEP, "300")
    assert_ok(cp)
    new = dctl.track(dctl.pid("d"))
    assert new != pid and alive(new)


def test_start_over_a_stale_pidfile_without_record(dctl):
    gone = subprocess.Popen([SLEEP, "0"])
    gone.wait()
    dctl.state_dir.mkdir()
    dctl.pidfile("st").write_text(f"{gone.pid}\n")
    pid = dctl.start("st", SLEEP, "300")
    assert pid != gone.pid and alive(pid)
