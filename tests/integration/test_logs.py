"""CONTRACT "logs": last N lines, and -f following across rotation (rename, truncate)."""
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from .helpers import PY, SH, SIGNAL_LOGGER, assert_ok, assert_one_error, log_lines, wait_for

pytestmark = pytest.mark.integration

TWELVE = "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo line$i; done; exec sleep 300"


@pytest.fixture
def twelve(dctl):
    dctl.start("lg", SH, "-c", TWELVE)
    assert wait_for(lambda: "line12" in log_lines(dctl.logfile("lg")))
    return dctl


def test_logs_last_lines(twelve):
    cp = twelve("logs", "-n", "3", "lg")
    assert_ok(cp)
    assert cp.stdout == "line10\nline11\nline12\n"


def test_logs_default_10_lines(twelve):
    cp = twelve("logs", "lg")
    assert_ok(cp)
    assert cp.stdout.splitlines() == [f"line{i}" for i in range(3, 13)]


def test_logs_more_lines_than_file(twelve):
    cp = twelve("logs", "-n", "100", "lg")
    assert_ok(cp)
    assert cp.stdout.splitlines() == [f"line{i}" for i in range(1, 13)]


def test_logs_unknown_name_is_a_usage_error(dctl):
    """Exit 2, as the man page says and as remove and export do for an unknown name."""
    cp = dctl("logs", "ghost")
    assert_one_error(cp, 2, only_line=True)
    assert "no daemon named ghost" in cp.stderr


class Follower:
    def __init__(self, proc):
        self.proc, self.lines = proc, queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def expect(self, line, timeout=10):
        try:
            while line not in self.seen:
                self.seen.append(self.lines.get(timeout=timeout))
        except queue.Empty:
            raise AssertionError(f"follower never printed {line!r}; got {self.seen!r}") from None


def test_logs_follow_across_rotation(twelve):
    log = twelve.logfile("lg")
    proc = twelve.popen("logs", "-n", "2", "-f", "lg", stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, text=True)
    f = Follower(proc)
    f.expect("line12")
    assert f.seen == ["line11", "line12"]

    with open(log, "a") as fh:
        fh.write("appended-1\n")
    f.expect("appended-1")

    os.rename(log, log.with_name("lg.log.1"))     # rotation by rename
    with open(log, "a") as fh:
        fh.write("after-rename-1\nafter-rename-2\n")
    f.expect("after-rename-2")

    with open(log, "r+") as fh:                   # rotation by truncation (copytruncate)
        fh.truncate(0)
    with open(log, "a") as fh:
        fh.write("trunc\n")
    f.expect("trunc")

    assert f.seen == ["line11", "line12", "appended-1", "after-rename-1", "after-rename-2",
                      "trunc"]
    assert proc.poll() is None, "logs -f ended by itself"
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=10)
    assert "Traceback" not in proc.stderr.read()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_logs_follow_ends_with_128_plus_the_number(twelve, sig):
    proc = twelve.popen("logs", "-n", "1", "-f", "lg", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    f = Follower(proc)
    f.expect("line12")
    proc.send_signal(sig)
    assert proc.wait(timeout=10) == 128 + sig
    assert proc.stderr.read() == ""


def test_logs_of_output_without_newlines_shows_its_last_64_kib(dctl):
    program = "import sys, time; sys.stdout.write('y' * 100 + 'x' * 300000); sys.stdout.flush(); time.sleep(300)"
    dctl.start("nl", PY, "-c", program)
    assert wait_for(lambda: dctl.logfile("nl").stat().st_size == 300100)
    cp = dctl("logs", "-n", "3", "nl")
    assert_ok(cp)
    assert cp.stdout == "x" * 65536 + "\n"


# --- as root, for a daemon of user nobody whose log is in nobody's directory (issue 10)

NOBODY = 65534
SECRET = "root-only-secret"


@pytest.fixture
def nobody_log(dctl, request):
    """A daemon running as nobody, logging to app.log in a directory nobody owns."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    top = tempfile.mkdtemp(prefix="dctl-logs-")
    request.addfinalizer(lambda: shutil.rmtree(top, ignore_errors=True))
    os.chmod(top, 0o755)
    home = Path(top) / "home"
    home.mkdir()
    os.chown(home, NOBODY, NOBODY)
    secret = Path(top) / "secret"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o600)
    log = home / "app.log"
    dctl.start("app", SH, "-c", "echo hello; exec sleep 300", opts=["-u", "nobody", "-o", str(log)])
    assert wait_for(lambda: "hello" in log_lines(log))
    return log, secret


def _replace(log, make):
    os.unlink(log)
    make(log)


def test_logs_shows_the_log_of_a_daemon_user(dctl, nobody_log):
    cp = dctl("logs", "app")
    assert_ok(cp)
    assert cp.stdout == "hello\n"


@pytest.mark.parametrize("plant, code, words", [
    ("symlink", 4, "symbolic link"),
    ("loop", 4, "symbolic link"),
    ("fifo", 4, "FIFO"),
    ("directory", 1, "directory"),
    ("unreadable", 4, "Permission denied"),
    ("root_file", 4, "Permission denied"),
])
def test_logs_refuses_what_the_daemon_user_planted(dctl, nobody_log, plant, code, words):
    log, secret = nobody_log
    if plant == "symlink":
        _replace(log, lambda p: os.symlink(secret, p))
    elif plant == "loop":
        _replace(log, lambda p: os.symlink(p.name, p))
    elif plant == "fifo":
        _replace(log, os.mkfifo)
    elif plant == "directory":
        _replace(log, os.mkdir)
    elif plant == "unreadable":
        log.chmod(0)  # nobody's own log, which nobody may not read: neither may root show it
    else:
        _replace(log, lambda p: shutil.copy2(secret, p))  # a root-only file in nobody's directory
    for args in (["logs", "app"], ["logs", "-f", "app"]):
        cp = dctl(*args, timeout=20)
        assert_one_error(cp, code, only_line=True)
        assert words in cp.stderr and SECRET not in cp.stdout + cp.stderr


def test_logs_follow_refuses_a_symlink_planted_at_a_rotation(dctl, nobody_log):
    log, secret = nobody_log
    proc = dctl.popen("logs", "-f", "app", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    f = Follower(proc)
    f.expect("hello")
    os.rename(log, log.with_name("app.log.1"))
    os.symlink(secret, log)
    assert proc.wait(timeout=20) == 4
    err = proc.stderr.read()
    assert "symbolic link" in err and "Traceback" not in err
    assert SECRET not in "".join(f.seen) + err


def test_logs_into_a_pipe_closed_early_ends_quietly(dctl):
    """`logs -n 100000 big | head -1`: no traceback, the exit status of a SIGPIPE death."""
    dctl.start("big", PY, "-c", "import time; print('\\n'.join(map(str, range(100000))), flush=True); time.sleep(300)")
    assert wait_for(lambda: len(log_lines(dctl.logfile("big"))) == 100000)
    proc = dctl.popen("logs", "-n", "100000", "big", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline() == b"0\n"
    proc.stdout.close()
    assert proc.wait(timeout=20) == 141
    assert proc.stderr.read() == b""


def test_logs_without_a_name_shows_and_follows_every_daemon(dctl):
    """CONTRACT "Logs": `logs` with no NAME prints the lines of all daemons, each prefixed by its name."""
    for name in ("api", "worker"):
        assert_ok(dctl("start", "-n", name, PY, "-c", SIGNAL_LOGGER, "HUP"))
        dctl.track(dctl.pid(name))
        assert wait_for(lambda name=name: "ready" in log_lines(dctl.logfile(name)))
    assert_ok(dctl("start", "-n", "quiet", "-o", "/dev/null", SH, "-c", "exec sleep 300"))
    dctl.track(dctl.pid("quiet"))
    cp = dctl("logs")
    assert_ok(cp)
    assert cp.stdout.splitlines() == ["api    | ready", "worker | ready"]
    follower = dctl.popen("logs", "-f", "-n", "1", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines: list[bytes] = []

    def read():
        for line in iter(follower.stdout.readline, b""):
            lines.append(line)

    threading.Thread(target=read, daemon=True).start()
    assert wait_for(lambda: b"worker | ready\n" in lines)
    assert_ok(dctl("signal", "worker", "HUP"))
    assert wait_for(lambda: b"worker | HUP\n" in lines)
    assert_ok(dctl("signal", "api", "HUP"))
    assert wait_for(lambda: b"api    | HUP\n" in lines)
    follower.send_signal(signal.SIGINT)
    assert follower.wait(timeout=10) == 130
    assert lines.count(b"api    | ready\n") == 1


def test_logs_without_a_name_of_an_empty_state_dir_prints_nothing(dctl):
    cp = dctl("logs")
    assert_ok(cp)
    assert cp.stdout == "" and cp.stderr == ""
    cp = dctl("logs", "-f")
    assert_ok(cp)


def test_logs_of_several_daemons_reach_back_into_rotated_files(dctl):
    """-n spans LOG.1 for each daemon of `logs` with no NAME, as it does for one."""
    for name in ("api", "worker"):
        assert_ok(dctl("start", "-n", name, PY, "-c", SIGNAL_LOGGER, "HUP"))
        dctl.track(dctl.pid(name))
        assert wait_for(lambda name=name: "ready" in log_lines(dctl.logfile(name)))
    Path(f"{dctl.logfile('api')}.1").write_text("older 1\nolder 2\n")
    cp = dctl("logs", "-n", "2")
    assert_ok(cp)
    assert cp.stdout.splitlines() == ["api    | older 2", "api    | ready", "worker | ready"]
