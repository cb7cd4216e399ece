"""CONTRACT "start options": a start interrupted by SIGINT, SIGTERM or SIGHUP while it waits
(readiness, --wait) undoes itself like a failed one and exits 128 + the signal (issue 11 #4)."""
import signal
import subprocess

import pytest

from .helpers import PY, SLEEP, alive, assert_ok, cmdline, error_lines, listen_code, log_lines, wait_for

pytestmark = pytest.mark.integration

# Ignores TERM (says so in its log), so that undoing its start takes a while.
STUBBORN = ("import signal, time\n"
            "signal.signal(signal.SIGTERM, lambda *a: print('TERM', flush=True))\n"
            "print('ready', flush=True)\n"
            "while True: time.sleep(0.05)\n")


def running_pid(dctl, name, argv):
    """The PID in NAME's pidfile once it is the process running ARGV (0 until then)."""
    try:
        pid = dctl.pid(name)
    except (OSError, AssertionError):
        return 0
    return pid if cmdline(pid) == argv else 0


def interrupt(dctl, proc, name, argv, sig):
    pid = wait_for(lambda: running_pid(dctl, name, argv))
    assert pid, "the program was never started"
    dctl.track(pid)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    return pid, err


def assert_undone(dctl, name, err, rc, code, pid):
    assert rc == code, err
    assert "Traceback" not in err, err
    lines = error_lines(err)
    assert len(lines) == 1 and "interrupted by SIG" in lines[0], err
    assert len(err.strip().splitlines()) == 1, err
    assert not alive(pid)
    assert dctl.token_pids() == []
    assert not dctl.pidfile(name).exists()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["INT", "TERM", "HUP"])
def test_interrupted_readiness_wait_undoes_the_start(dctl, sig, reserved_port):
    argv = [SLEEP, "300"]
    proc = dctl.popen("start", "-n", "web", "--ready-port", reserved_port, "--ready-timeout", "120", *argv,
                      stderr=subprocess.PIPE, text=True)
    pid, err = interrupt(dctl, proc, "web", argv, sig)
    assert_undone(dctl, "web", err, proc.returncode, 128 + sig, pid)
    assert not dctl.recordfile("web").exists()
    assert dctl("status", "web").returncode == 3


def test_interrupted_wait_puts_the_previous_record_back(dctl):
    dctl.start("job", SLEEP, "300")
    assert_ok(dctl("stop", "job"))
    before = dctl.recordfile("job").read_bytes()
    argv = [SLEEP, "301"]
    proc = dctl.popen("start", "-n", "job", "--wait", "120", *argv, stderr=subprocess.PIPE, text=True)
    pid, err = interrupt(dctl, proc, "job", argv, signal.SIGTERM)
    assert_undone(dctl, "job", err, proc.returncode, 143, pid)
    assert dctl.recordfile("job").read_bytes() == before


def test_interrupted_restart_start_phase(dctl, reserved_port):
    port = reserved_port
    listen = [PY, "-c", listen_code(port)]
    old = dctl.start("web", *listen, opts=["--ready-port", port, "--ready-timeout", "120"])
    argv = [SLEEP, "300"]  # never listens: restart waits for it to be ready
    proc = dctl.popen("restart", "web", "--", *argv, stderr=subprocess.PIPE, text=True)
    pid, err = interrupt(dctl, proc, "web", argv, signal.SIGINT)
    assert_undone(dctl, "web", err, proc.returncode, 130, pid)
    assert not alive(old)
    record = dctl.record("web")
    assert record["state"] == "stopped" and record["command"] == listen


def test_second_interrupt_does_not_break_off_the_undo(dctl, reserved_port):
    argv = [PY, "-c", STUBBORN]
    proc = dctl.popen("start", "-n", "web", "--ready-port", reserved_port, "--ready-timeout", "120", *argv,
                      stderr=subprocess.PIPE, text=True)
    pid = wait_for(lambda: running_pid(dctl, "web", argv))
    assert pid and wait_for(lambda: "ready" in log_lines(dctl.logfile("web")))
    dctl.track(pid)
    proc.send_signal(signal.SIGINT)
    # The undo has begun (TERM sent, and ignored); it goes on to KILL after a while.
    assert wait_for(lambda: "TERM" in log_lines(dctl.logfile("web")))
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert_undone(dctl, "web", err, proc.returncode, 130, pid)
    assert not dctl.recordfile("web").exists()


def test_ignored_hangup_interrupts_nothing(dctl, tmp_path):
    # nohup daemonctl start ...: a SIGHUP the caller ignores does not undo the start.
    flag = tmp_path / "ready"
    argv = [SLEEP, "300"]
    proc = dctl.popen("start", "-n", "web", "--ready-file", flag, "--ready-timeout", "120", *argv,
                      stderr=subprocess.PIPE, text=True,
                      preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    pid = wait_for(lambda: running_pid(dctl, "web", argv))
    assert pid
    dctl.track(pid)
    proc.send_signal(signal.SIGHUP)  # an ignored signal is discarded when sent
    flag.touch()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert alive(pid) and dctl.pid("web") == pid
