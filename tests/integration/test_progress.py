"""Long waits on a terminal (issue 11 #13): one line saying what is awaited and for how long,
updated in place and cleared when done; nothing of it when stderr is not a terminal or -q."""
import fcntl
import os
import pty
import re
import struct
import subprocess
import termios

import pytest

from .helpers import PY, SLEEP, assert_ok, listen_code, log_lines, wait_for

pytestmark = pytest.mark.integration

CLEAR = "\r\x1b[K"
# Ignores TERM, so that stop waits out the schedule's TERM step.
STUBBORN = ("import signal, time\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "print('ready', flush=True)\n"
            "while True: time.sleep(0.05)\n")


def on_terminal(dctl, *args):
    """Run daemonctl with stderr on a pseudo-terminal: (exit status, what the terminal got)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 250, 0, 0))
    proc = dctl.popen(*args, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    received = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the terminal has no writer left
            break
        if not chunk:
            break
        received += chunk
    os.close(master)
    return proc.wait(timeout=60), received.decode()


def stubborn(dctl, name="web"):
    pid = dctl.start(name, PY, "-c", STUBBORN)
    assert wait_for(lambda: "ready" in log_lines(dctl.logfile(name)))
    return pid


def assert_line_then_cleared(screen, expected, final):
    """The progress line appeared, and was erased before the final message."""
    assert re.search(expected, screen), repr(screen)
    last = screen.rsplit(CLEAR, 1)
    assert len(last) == 2 and last[1].startswith(final), repr(screen)
    assert "waiting" not in last[1], repr(screen)


def test_stop_shows_the_schedule_it_works_through(dctl):
    stubborn(dctl)
    code, screen = on_terminal(dctl, "stop", "--schedule", "TERM/3/KILL/5", "web")
    assert code == 0
    assert_line_then_cleared(screen, r"waiting for web to exit: TERM sent [12] s ago, KILL in [12] s", "daemonctl: stopped web")


def test_restart_shows_the_stop(dctl):
    stubborn(dctl)
    code, screen = on_terminal(dctl, "restart", "--schedule", "TERM/3/KILL/5", "web")
    assert code == 0
    dctl.track(dctl.pid("web"))
    assert_line_then_cleared(screen, r"waiting for web to exit: TERM sent [12] s ago, KILL in [12] s", "daemonctl: started web")


def test_start_shows_the_readiness_it_waits_for(dctl, reserved_port):
    port = reserved_port
    late = [PY, "-c", listen_code(port, delay=2.5)]
    code, screen = on_terminal(dctl, "start", "-n", "web", "--ready-port", port, *late)
    dctl.track(dctl.pid("web"))
    assert code == 0
    assert_line_then_cleared(screen, rf"waiting for web to be ready: a connection to 127\.0\.0\.1 port {port}, [12] s of 30",
                             "daemonctl: started web")


def test_start_wait_shows_how_long_it_watches(dctl):
    code, screen = on_terminal(dctl, "start", "-n", "web", "--wait", "2.5", SLEEP, "300")
    dctl.track(dctl.pid("web"))
    assert code == 0
    assert_line_then_cleared(screen, r"waiting to see web stay up: [12] s of 2\.5", "daemonctl: started web")


def test_failed_start_clears_the_line_before_its_error(dctl):
    code, screen = on_terminal(dctl, "start", "-n", "web", "--ready-file", "/nonexistent/x", "--ready-timeout", "2",
                               SLEEP, "300")
    assert code == 1
    assert_line_then_cleared(screen, r"waiting for web to be ready: /nonexistent/x to exist, [12] s of 2",
                             "daemonctl: error: web was not ready")


def test_quiet_on_a_terminal_prints_nothing(dctl):
    stubborn(dctl)
    code, screen = on_terminal(dctl, "stop", "-q", "--schedule", "TERM/2/KILL/5", "web")
    assert code == 0 and screen == ""


def test_nothing_extra_when_stderr_is_not_a_terminal(dctl):
    stubborn(dctl)
    cp = dctl("stop", "--schedule", "TERM/2/KILL/5", "web")
    assert_ok(cp)
    assert cp.stderr.startswith("daemonctl: stopped web") and cp.stderr.count("\n") == 1, repr(cp.stderr)
    assert "\r" not in cp.stderr and "\x1b" not in cp.stderr and "waiting" not in cp.stderr
    cp = dctl("start", "-n", "w2", "--wait", "1.5", SLEEP, "300")
    assert_ok(cp)
    dctl.track(dctl.pid("w2"))
    assert cp.stderr.startswith("daemonctl: started w2") and cp.stderr.count("\n") == 1, repr(cp.stderr)


def test_undoing_a_start_shows_the_stop(dctl):
    # Not ready in time, and the program ignores TERM: the undo waits before its KILL.
    argv = [PY, "-c", STUBBORN]
    code, screen = on_terminal(dctl, "start", "-n", "web", "--ready-file", "/nonexistent/x", "--ready-timeout", "1.5",
                               *argv)
    assert code == 1
    assert_line_then_cleared(screen, r"waiting for web to exit: TERM sent [12] s ago, KILL in [34] s",
                             "daemonctl: error: web was not ready")
