"""CONTRACT "Errors and bad input": one `daemonctl: error:` line, the right exit code,
no traceback, and nothing left behind (no pidfile, no record, no process)."""
import re

import pytest

from .helpers import PY, SH, SLEEP, alive, assert_ok, assert_one_error, read_pidfile

pytestmark = pytest.mark.integration


def leftovers(dctl, *extra_paths):
    found = []
    if dctl.state_dir.exists():
        found += [str(p) for p in dctl.state_dir.rglob("*") if p.suffix in (".pid", ".json")]
    found += [str(p) for p in extra_paths if p.exists()]
    return found


@pytest.fixture
def files(tmp_path):
    noexec = tmp_path / "noexec.sh"
    noexec.write_text("#!/bin/sh\nexec sleep 300\n")
    noexec.chmod(0o644)
    return {"{noexec}": str(noexec), "{dir}": str(tmp_path), "{tmp}": str(tmp_path)}


BAD_START = [
    # (id, args after `start`, exit code)
    ("missing-program", ["-n", "bad", "/nonexistent/program"], 5),
    ("missing-in-PATH", ["-n", "bad", "no-such-program-dctl-itest"], 5),
    ("not-executable", ["-n", "bad", "{noexec}"], 5),
    ("directory", ["-n", "bad", "{dir}"], 5),
    ("log-dir-missing", ["-n", "bad", "-o", "/nonexistent/dir/x.log", SLEEP, "300"], 1),
    ("stderr-dir-missing", ["-n", "bad", "-e", "/nonexistent/dir/x.log", SLEEP, "300"], 1),
    ("pidfile-dir-missing", ["-n", "bad", "-p", "/nonexistent/x.pid", SLEEP, "300"], 1),
    ("chdir-missing", ["-n", "bad", "-d", "/nonexistent/dir", SLEEP, "300"], 1),
    ("name-empty", ["--name=", SLEEP, "300"], 2),
    ("name-dot", ["--name=.hidden", SLEEP, "300"], 2),
    ("name-dash", ["--name=-x", SLEEP, "300"], 2),
    ("name-slash", ["--name=a/b", SLEEP, "300"], 2),
    ("name-dotdot", ["--name=..", SLEEP, "300"], 2),
    ("name-space", ["--name=a b", SLEEP, "300"], 2),
    ("name-65", ["--name=" + "a" * 65, SLEEP, "300"], 2),
    ("umask-999", ["-n", "bad", "--umask", "999", SLEEP, "300"], 2),
    ("umask-text", ["-n", "bad", "--umask", "abc", SLEEP, "300"], 2),
    ("env-no-equals", ["-n", "bad", "--env", "NOEQUALS", SLEEP, "300"], 2),
    ("env-empty-key", ["-n", "bad", "--env", "=x", SLEEP, "300"], 2),
    ("wait-negative", ["-n", "bad", "--wait", "-1", SLEEP, "300"], 2),
    ("wait-text", ["-n", "bad", "--wait", "soon", SLEEP, "300"], 2),
    ("unknown-option", ["-n", "bad", "--no-such-option", SLEEP, "300"], 2),
    ("no-program-no-record", ["-n", "bad"], 6),
]


@pytest.mark.parametrize("args, code", [c[1:] for c in BAD_START], ids=[c[0] for c in BAD_START])
def test_bad_start(dctl, files, args, code):
    args = [files.get(a, a) for a in args]
    cp = dctl("start", *args)
    assert_one_error(cp, code, only_line=True)
    assert leftovers(dctl) == []
    assert dctl.token_pids() == [], "a process was left running"


def test_name_of_64_chars_is_fine(dctl):
    name = "A-z_0.9@" * 8
    assert len(name) == 64
    dctl.start(name, SLEEP, "300")
    assert dctl("status", name).returncode == 0


BAD_OTHER = [
    ("stop-t-negative", ["stop", "-t", "-1", "x"], 2),
    ("stop-t-text", ["stop", "-t", "abc", "x"], 2),
    ("stop-schedule-bogus", ["stop", "--schedule", "bogus", "x"], 2),
    ("stop-schedule-unknown-signal", ["stop", "--schedule", "NOPE/1", "x"], 2),
    ("stop-schedule-bad-timeout", ["stop", "--schedule", "TERM/x/KILL/1", "x"], 2),
    ("stop-bad-name", ["stop", "a/b"], 2),
    ("restart-t-negative", ["restart", "-t", "-1", "x"], 2),
    ("restart-bad-name", ["restart", ".x"], 2),
    ("status-bad-name", ["status", "a/b"], 2),
    ("logs-bad-lines", ["logs", "-n", "-3", "x"], 2),
    ("logs-bad-name", ["logs", "a/b"], 2),
    ("remove-unknown", ["remove", "y"], 2),
    ("signal-missing-arg", ["signal", "x"], 2),
    ("unknown-command", ["frobnicate"], 2),
]


@pytest.mark.parametrize("args, code", [c[1:] for c in BAD_OTHER], ids=[c[0] for c in BAD_OTHER])
def test_bad_usage_other_commands(dctl, args, code):
    dctl.start("x", SLEEP, "300")
    pid = dctl.pid("x")
    cp = dctl(*args)
    assert_one_error(cp, code, only_line=True)
    assert alive(pid) and dctl.pid("x") == pid, "bad usage touched the daemon"


@pytest.mark.parametrize("args", [("-t", "1e300"), ("-t", "inf"), ("--schedule", "TERM/99999999999/KILL/1")])
def test_stop_timeout_beyond_what_a_wait_can_take_is_bad_usage(dctl, args):
    # Once took a traceback (OverflowError in the wait) from a daemon that outlived TERM.
    pid = dctl.start("x", SH, "-c", "trap '' TERM HUP; while :; do sleep 1; done")
    assert_one_error(dctl("stop", *args, "x"), 2, only_line=True)
    assert alive(pid) and dctl.pid("x") == pid, "bad usage touched the daemon"


def test_unknown_signal_leaves_daemon_alone(dctl):
    pid = dctl.start("x", SLEEP, "300")
    assert_one_error(dctl("signal", "x", "NOPE"), 2, only_line=True)
    assert alive(pid)


# ------------------------------------------------------- exec failure / --wait

def test_wait_reports_early_exit(dctl):
    cp = dctl("start", "-n", "boom", "--wait", "1", SH, "-c", "echo first; echo boom; exit 3")
    assert_one_error(cp, 1)
    assert re.search(r"\b3\b", cp.stderr), f"exit status 3 not shown: {cp.stderr!r}"
    assert "boom" in cp.stderr, f"last log line not shown: {cp.stderr!r}"
    assert leftovers(dctl) == []


def test_wait_fails_even_on_exit_status_0(dctl):
    cp = dctl("start", "-n", "quick", "--wait", "1", SH, "-c", "echo done; exit 0")
    assert_one_error(cp, 1)
    assert re.search(r"\b0\b", cp.stderr) and "done" in cp.stderr, cp.stderr
    assert leftovers(dctl) == []


def test_wait_reports_death_by_signal(dctl):
    cp = dctl("start", "-n", "sig", "--wait", "1", SH, "-c", "echo dying; kill -9 $$")
    assert_one_error(cp, 1)
    assert "dying" in cp.stderr
    assert re.search(r"KILL|\b9\b", cp.stderr), cp.stderr
    assert leftovers(dctl) == []


def test_wait_success(dctl):
    cp = dctl("start", "-n", "fine", "--wait", "1", SLEEP, "300")
    assert_ok(cp)
    pid = dctl.track(dctl.pid("fine"))
    assert alive(pid)


def test_wait_fractional(dctl, tmp_path):
    pf = tmp_path / "frac.pid"
    assert_ok(dctl("start", "-n", "frac", "--wait", "0.3", "-p", pf, PY, "-c",
                   "import time; time.sleep(300)"))
    assert alive(dctl.track(read_pidfile(pf)))


@pytest.mark.parametrize("args, code", [
    (["/nonexistent/program"], 5),
    (["--wait", "1", SH, "-c", "exit 4"], 1),
    (["--umask", "999", SLEEP, "300"], 2),
])
def test_failed_start_keeps_existing_record(dctl, args, code):
    dctl.start("keep", SLEEP, "300")
    assert_ok(dctl("stop", "keep"))
    before = dctl.recordfile("keep").read_text()
    cp = dctl("start", "-n", "keep", *args)
    assert_one_error(cp, code)
    assert dctl.recordfile("keep").read_text() == before
    assert not dctl.pidfile("keep").exists()
    assert dctl.token_pids() == []
