"""CONTRACT "logs": `logs -f` loses no line that reached the file and shows none twice,
across rotations by the real logrotate (copytruncate, and rename + create)."""
import signal
import subprocess
import threading

import pytest

from .helpers import BATCHES, LOGROTATE, PY, assert_ok, compressed_rotations, log_lines, wait_for

pytestmark = pytest.mark.integration

ROTATIONS = 5

# Numbered lines every 2 ms, through its stdout (an O_APPEND descriptor, as copytruncate expects)...
THROUGH_STDOUT = """
import sys, time
for i in range(int(sys.argv[1])):
    sys.stdout.write(f"{i}\\n"); sys.stdout.flush(); time.sleep(0.002)
print("done", flush=True)
time.sleep(300)
"""
# ...or opening the log by name for each line, as a program that reopens its log does.
BY_NAME = """
import os, sys, time
def line(text):
    fd = os.open(sys.argv[2], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, text.encode()); os.close(fd)
for i in range(int(sys.argv[1])):
    line(f"{i}\\n"); time.sleep(0.002)
line("done\\n")
time.sleep(300)
"""


class Lines:
    def __init__(self, proc):
        self.proc, self.got = proc, []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            self.got.append(line.rstrip("\n"))

    def numbers(self):
        return [int(x) for x in self.got if x.isdigit()]


def _rotated(dctl, tmp_path, name, mode, program, *args, opts=(), count=3000):
    if LOGROTATE is None:
        pytest.skip("logrotate is not installed (make tools installs it)")
    log = tmp_path / "rot" / f"{name}.log"
    log.parent.mkdir()
    conf = tmp_path / "logrotate.conf"
    conf.write_text(f"{log} {{\n  rotate 50\n  {mode}\n  nocompress\n  missingok\n}}\n")
    log.write_text("first\n")
    dctl.start(name, PY, "-c", program, str(count), *args, str(log), opts=["-o", str(log), *opts])
    follower = dctl.popen("logs", "-n", "1000000", "-f", name, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = Lines(follower)
    for k in range(1, ROTATIONS + 1):
        assert wait_for(lambda k=k: len(lines.numbers()) >= k * count // (ROTATIONS + 1), timeout=60), lines.got[-5:]
        cp = subprocess.run([LOGROTATE, "-f", "-s", str(tmp_path / "logrotate.state"), str(conf)],
                            capture_output=True, text=True, timeout=60)
        assert_ok(cp)
    assert wait_for(lambda: "done" in lines.got, timeout=60), lines.got[-5:]
    follower.send_signal(signal.SIGINT)
    code = follower.wait(timeout=10)

    rotated = sorted(log.parent.glob(f"{name}.log.*"), key=lambda p: -int(p.suffix[1:]))
    assert len(rotated) == ROTATIONS
    in_files = [int(x) for p in [*rotated, log] for x in log_lines(p) if x.isdigit()]
    shown = lines.numbers()
    assert shown == sorted(set(shown)), "a line shown twice, or out of order"
    lost = sorted(set(in_files) - set(shown))
    assert lost == [], f"{len(lost)} lines in the files were never shown: {lost[:20]}"
    assert code == 130 and "Traceback" not in follower.stderr.read()
    return log


def test_follow_loses_nothing_under_copytruncate(dctl, tmp_path):
    _rotated(dctl, tmp_path, "ct", "copytruncate", THROUGH_STDOUT)


def test_follow_loses_nothing_under_rename_and_create(dctl, tmp_path):
    _rotated(dctl, tmp_path, "cr", "create", BY_NAME)


def test_with_a_log_writer_rename_and_create_works_for_a_program_that_never_reopens(dctl, tmp_path):
    # The writer (here only for --log-max-size, never reached) reopens the log by its name once
    # it was renamed: the program's later lines reach the new log, not LOG.1 forever.
    # 1000 lines (2 s) after the last rotation: the writer looks at the name once a second.
    log = _rotated(dctl, tmp_path, "wr", "create", THROUGH_STDOUT, opts=["--log-max-size", "1G"], count=6000)
    assert "done" in log_lines(log)


# logrotate's `compress` + `delaycompress` (helpers.compressed_rotations): LOG.1 plain, LOG.2.gz ... ---

def test_n_reaches_back_into_files_logrotate_compressed(dctl, tmp_path):
    dctl.start("zip", PY, "-c", BATCHES)
    everything = compressed_rotations(dctl, tmp_path, ["zip"])
    cp = dctl("logs", "-n", "100", "zip")
    assert_ok(cp)
    assert cp.stdout.splitlines() == everything
    cp = dctl("logs", "-n", "8", "zip")  # the live log, LOG.1 and the end of LOG.2.gz
    assert cp.stdout.splitlines() == everything[-8:]


def test_n_reaches_back_into_compressed_files_for_a_set_and_for_every_daemon(dctl, tmp_path):
    assert_ok(dctl("start", "-n", "web", "--instances", "2", PY, "-c", BATCHES))
    for i in (1, 2):
        dctl.track(dctl.pid(f"web@{i}"))
    dctl.start("solo", PY, "-c", BATCHES)
    names = ["solo", "web@1", "web@2"]
    everything = compressed_rotations(dctl, tmp_path, names)
    cp = dctl("logs", "-n", "100", "web")
    assert_ok(cp)
    assert cp.stdout.splitlines() == [f"{name} | {line}" for name in ("web@1", "web@2") for line in everything]
    cp = dctl("logs", "-n", "100")
    assert_ok(cp)
    assert cp.stdout.splitlines() == [f"{name.ljust(5)} | {line}" for name in names for line in everything]
