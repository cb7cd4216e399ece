"""CONTRACT "Readiness": --ready-file, --ready-port, --ready-log and --notify each succeed,
time out and fail on early death, in plain and --respawn mode; nothing is left behind."""
import socket

import pytest

from .helpers import PY, SLEEP, alive, assert_ok, assert_one_error, listen_code, log_lines

pytestmark = pytest.mark.integration

SHORT = ["--ready-timeout", "1.5"]


def touch_later(path):
    return [PY, "-c", f"import time, pathlib; time.sleep(0.3); pathlib.Path({str(path)!r}).touch(); time.sleep(300)"]


def listen_later(port):
    return [PY, "-c", listen_code(port, delay=0.3)]


PRINT_LATER = [PY, "-c", "import time; print('warming up', flush=True); time.sleep(0.3); "
               "print('listening on 8080', flush=True); time.sleep(300)"]
DIE = [PY, "-c", "import sys; print('config is broken', flush=True); sys.exit(4)"]

# A real sd_notify sender: sends its argv[1:] as datagrams to $NOTIFY_SOCKET, then sleeps.
NOTIFIER = r"""
import os, socket, sys, time
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for message in sys.argv[1:]:
    if message.startswith("sleep="):
        time.sleep(float(message[6:]))
    elif message.startswith("touch="):
        open(message[6:], "w").close()
    else:
        sock.sendto(message.encode(), os.environ["NOTIFY_SOCKET"])
print("notified", flush=True)
time.sleep(300)
"""


def assert_nothing_left(dctl, name, cp, why):
    assert_one_error(cp, 1)
    assert why in cp.stderr, cp.stderr
    assert dctl.token_pids() == []
    assert not dctl.pidfile(name).exists()
    assert not dctl.recordfile(name).exists()


@pytest.mark.parametrize("respawn", [[], ["--respawn"]], ids=["plain", "respawn"])
def test_ready_file(dctl, tmp_path, respawn):
    flag = tmp_path / "ready"
    pid = dctl.start("f", *touch_later(flag), opts=[*respawn, "--ready-file", flag])
    assert flag.exists() and alive(pid)


@pytest.mark.parametrize("respawn", [[], ["--respawn"]], ids=["plain", "respawn"])
def test_ready_file_timeout(dctl, tmp_path, respawn):
    cp = dctl("start", "-n", "f", *respawn, "--ready-file", tmp_path / "never", *SHORT, SLEEP, "300")
    assert_nothing_left(dctl, "f", cp, "not ready within 1.5s")


@pytest.mark.parametrize("respawn", [[], ["--respawn"]], ids=["plain", "respawn"])
def test_ready_file_early_death(dctl, tmp_path, respawn):
    cp = dctl("start", "-n", "f", *respawn, "--ready-file", tmp_path / "never", *DIE)
    assert_nothing_left(dctl, "f", cp, "before it was ready")
    assert "config is broken" in cp.stderr  # the last lines of its log
    if not respawn:
        assert "exited with status 4" in cp.stderr


@pytest.mark.parametrize("respawn", [[], ["--respawn"]], ids=["plain", "respawn"])
def test_ready_port(dctl, respawn, reserved_port):
    port = reserved_port
    dctl.start("p", *listen_later(port), opts=[*respawn, "--ready-port", f"127.0.0.1:{port}"])
    socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_ready_port_timeout_and_early_death(dctl, reserved_port):
    port = reserved_port
    cp = dctl("start", "-n", "p", "--ready-port", str(port), *SHORT, SLEEP, "300")
    assert_nothing_left(dctl, "p", cp, f"127.0.0.1 port {port}")
    cp = dctl("start", "-n", "p", "--ready-port", str(port), *DIE)
    assert_nothing_left(dctl, "p", cp, "exited with status 4 before it was ready")


@pytest.mark.parametrize("respawn", [[], ["--respawn"]], ids=["plain", "respawn"])
def test_ready_log(dctl, respawn):
    dctl.start("l", *PRINT_LATER, opts=[*respawn, "--ready-log", r"listening on \d+"])
    assert log_lines(dctl.logfile("l"))[-1] == "listening on 8080"


def test_ready_log_needs_a_new_line(dctl):
    dctl.logfile("l").parent.mkdir(parents=True)
    dctl.logfile("l").write_text("listening on 80 (from an earlier run)\n")
    cp = dctl("start", "-n", "l", "--ready-log", "listening", *SHORT, SLEEP, "300")
    assert_nothing_left(dctl, "l", cp, "not ready within")


def test_ready_log_on_stderr_log(dctl, tmp_path):
    """The line comes on stderr, into its own log, after a while: start returns once it is there."""
    err = tmp_path / "err.log"
    prog = [PY, "-c", "import sys, time; print('starting', flush=True); time.sleep(0.5); "
            "print('up', file=sys.stderr, flush=True); time.sleep(300)"]
    dctl.start("l", *prog, opts=["-e", err, "--ready-log", "^up$"])
    assert log_lines(err) == ["up"]
    assert log_lines(dctl.logfile("l")) == ["starting"]


def test_ready_log_early_death(dctl):
    cp = dctl("start", "-n", "l", "--ready-log", "listening", *DIE)
    assert_nothing_left(dctl, "l", cp, "before it was ready")


@pytest.mark.parametrize("respawn", [[], ["--respawn"]], ids=["plain", "respawn"])
def test_notify_ready(dctl, tmp_path, respawn):
    """Other datagrams come first: only READY=1, sent after the marker file is made, ends the wait."""
    marker = tmp_path / "initialized"
    pid = dctl.start("n", PY, "-c", NOTIFIER, "STATUS=starting", "sleep=0.5", "STATUS=loading", "sleep=0.3",
                     f"touch={marker}", "READY=1", opts=[*respawn, "--notify"])
    assert marker.exists(), "start returned before the program said READY=1"
    assert alive(pid)


def test_notify_errno_fails(dctl):
    cp = dctl("start", "-n", "n", "--notify", PY, "-c", NOTIFIER, "ERRNO=13")
    assert_nothing_left(dctl, "n", cp, "ERRNO=13")


def test_notify_timeout_and_extension(dctl):
    cp = dctl("start", "-n", "n", "--notify", *SHORT, PY, "-c", NOTIFIER)
    assert_nothing_left(dctl, "n", cp, "READY=1")
    # EXTEND_TIMEOUT_USEC lets it become ready after the --ready-timeout has passed
    dctl.start("n", PY, "-c", NOTIFIER, "EXTEND_TIMEOUT_USEC=30000000", "sleep=2.5", "READY=1",
               opts=["--notify", *SHORT])


def test_notify_early_death(dctl):
    cp = dctl("start", "-n", "n", "--notify", *DIE)
    assert_nothing_left(dctl, "n", cp, "before it was ready")


def test_failed_readiness_keeps_the_previous_record(dctl, tmp_path):
    dctl.start("prev", SLEEP, "300")
    assert_ok(dctl("stop", "prev"))
    before = dctl.recordfile("prev").read_bytes()
    cp = dctl("start", "-n", "prev", "--ready-file", tmp_path / "never", *SHORT)
    assert_one_error(cp, 1)
    assert dctl.recordfile("prev").read_bytes() == before
    assert dctl.token_pids() == [] and not dctl.pidfile("prev").exists()


@pytest.mark.parametrize("args", [["--ready-timeout", "0"], ["--ready-port", "99999"],
                                  ["--ready-port", "x:y"], ["--ready-log", "("]])
def test_bad_readiness_options(dctl, args):
    cp = dctl("start", "-n", "bad", *args, SLEEP, "300")
    assert_one_error(cp, 2, only_line=True)
    assert not dctl.recordfile("bad").exists() and dctl.token_pids() == []


@pytest.mark.parametrize("opts", [["-o", "/dev/null", "--syslog"], ["-o", "/dev/null"],
                                  ["-o", "/dev/null", "--syslog", "--respawn"], ["--instances", "2", "-o", "/dev/null"]],
                         ids=["syslog", "nowhere", "syslog-respawn", "set"])
def test_ready_log_with_no_log_to_watch_is_bad_usage_at_once(dctl, opts):
    # Sent only to syslog (a copy daemonctl never reads back) or discarded, the lines reach no log:
    # the start could only wait out its timeout. Bad usage, before anything starts.
    cp = dctl("start", "-n", "l", *opts, "--ready-log", "listening", *PRINT_LATER)
    assert_one_error(cp, 2, only_line=True)
    assert "--ready-log needs a log to watch" in cp.stderr
    assert dctl.token_pids() == []
    assert not dctl.state_dir.exists() or list(dctl.state_dir.iterdir()) == []
