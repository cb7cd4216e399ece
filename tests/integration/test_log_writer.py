"""CONTRACT "Logs: rotation, timestamps, syslog": the log writer with real programs.

Every line a program writes is counted in the files: none lost, split or written
twice across rotations, on both streams, across restarts under --respawn; stamps
in the daemon's time zone; syslog on a datagram socket of the test's own; a full
disk that blocks nobody and is told in the log.
"""

from __future__ import annotations

import fcntl
import os
import re
import signal
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from .helpers import NOBODY_UID, PY, SLEEP, assert_ok, cmdline, log_lines, wait_for

pytestmark = pytest.mark.integration

# N numbered lines on stdout and on stderr, written in chunks of random sizes that cut lines
# anywhere (the writer reassembles them), the two streams interleaved.
BOTH_STREAMS = r"""
import os, random, sys
n = int(sys.argv[1])
rng = random.Random(n)
data = [b"".join(b"%s %d\n" % (tag, i) for i in range(n)) for tag in (b"out", b"err")]
pos = [0, 0]
while pos[0] < len(data[0]) or pos[1] < len(data[1]):
    k = rng.randrange(2)
    if pos[k] >= len(data[k]):
        k = 1 - k
    size = rng.choice((1, 7, 100, 4096, 70000))
    pos[k] += os.write(1 + k, data[k][pos[k]:pos[k] + size])
"""

# Numbered lines, one write each, forever (a run of a --respawn daemon, killed by the test).
FOREVER = r"""
import os, time
i = 0
while True:
    os.write(1, b"%d %d\n" % (os.getpid(), i))
    i += 1
    if i % 200 == 0:
        time.sleep(0.001)
"""

# A program that says goodbye on SIGTERM with many lines: stop must return once they are all in the log.
GOODBYE = r"""
import os, signal, sys, time
def bye(*_):
    for i in range(2000):
        os.write(1, b"bye %d\n" % i)
    os._exit(0)
signal.signal(signal.SIGTERM, bye)
os.write(1, b"ready\n")
while True:
    time.sleep(1)
"""


def writers(dctl) -> list[int]:
    return [p for p in dctl.token_pids() if "daemonctl.supervise.logwriter" in cmdline(p)]


def drained(dctl, name: str) -> bool:
    """No writer of NAME holds its lock, and no log writer of this test is left."""
    try:
        fd = os.open(dctl.state_dir / f"{name}.writer.lock", os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return not writers(dctl)


def rotated(path: Path) -> list[Path]:
    """The log and its rotations, oldest first."""
    copies = sorted(path.parent.glob(path.name + ".*"), key=lambda p: -int(p.suffix[1:]))
    return [*copies, path]


def contents(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in rotated(path))


def total_size(path: Path) -> int:
    """The size of the log and its rotations, while they may be renamed under us."""
    size = 0
    for p in path.parent.glob(path.name + "*"):
        try:
            size += p.stat().st_size
        except FileNotFoundError:
            pass
    return size


def expected(tag: bytes, n: int) -> list[bytes]:
    return [b"%s %d" % (tag, i) for i in range(n)]


@pytest.mark.timeout(300)
def test_rotation_under_fast_output_loses_splits_and_duplicates_no_line_of_either_stream(dctl, tmp_path):
    n, size = 150_000, 100_000
    out, err = tmp_path / "out.log", tmp_path / "err.log"
    dctl.start("fast", PY, "-c", BOTH_STREAMS, str(n),
               opts=["-o", out, "-e", err, "--log-max-size", str(size), "--log-keep", "1000"])
    assert wait_for(lambda: drained(dctl, "fast"), timeout=240)
    for path, tag in ((out, b"out"), (err, b"err")):
        assert contents(path).split(b"\n") == [*expected(tag, n), b""]
        files = rotated(path)
        assert len(files) > 10
        for f in files:
            data = f.read_bytes()
            assert len(data) <= size and (data.endswith(b"\n") or data == b""), f


@pytest.mark.timeout(300)
def test_both_streams_in_one_file_keep_their_lines_whole_and_in_order(dctl, tmp_path):
    n = 60_000
    log = tmp_path / "both.log"
    dctl.start("both", PY, "-c", BOTH_STREAMS, str(n), opts=["-o", log, "--log-max-size", "50000", "--log-keep", "1000"])
    assert wait_for(lambda: drained(dctl, "both"), timeout=240)
    lines = contents(log).split(b"\n")
    assert lines[-1] == b""
    assert [x for x in lines[:-1] if x.startswith(b"out ")] == expected(b"out", n)
    assert [x for x in lines[:-1] if x.startswith(b"err ")] == expected(b"err", n)
    assert len(lines) == 2 * n + 1  # nothing else, no line made of two


def test_a_line_longer_than_64_kib_is_written_in_pieces_and_an_unfinished_last_line_ends(dctl, tmp_path):
    log = tmp_path / "long.log"
    code = "import os; os.write(1, b'a' * 150000 + b'\\nshort\\n' + b'no newline')"
    dctl.start("long", PY, "-c", code, opts=["-o", log, "--log-timestamps"])
    assert wait_for(lambda: drained(dctl, "long"))
    lines = [re.sub(rb"^\S+ ", b"", x) for x in log.read_bytes().split(b"\n")]
    assert lines == [b"a" * 65536, b"a" * 65536, b"a" * (150000 - 2 * 65536), b"short", b"no newline", b""]


def test_without_log_options_the_program_writes_its_log_itself(dctl, tmp_path):
    pid = dctl.start("plain", SLEEP, "1000")
    assert os.readlink(f"/proc/{pid}/fd/1") == str(dctl.logfile("plain"))
    assert writers(dctl) == [] and not (dctl.state_dir / "plain.writer.lock").exists()


def test_the_writer_ends_once_the_program_and_what_it_started_are_gone(dctl, tmp_path):
    # The program's child keeps stdout open after the program exits: its lines still come.
    code = "import subprocess, sys; subprocess.Popen(['sh', '-c', 'sleep 0.5; echo from-child']); print('parent', flush=True)"
    pid = dctl.start("kids", PY, "-c", code, opts=["--log-timestamps"])
    assert wait_for(lambda: not os.path.exists(f"/proc/{pid}"))
    assert wait_for(lambda: drained(dctl, "kids"))
    assert [x.split(" ", 1)[1] for x in log_lines(dctl.logfile("kids"))] == ["parent", "from-child"]


@pytest.mark.parametrize("respawn", [False, True])
def test_stop_returns_once_the_programs_last_lines_are_in_the_log(dctl, respawn):
    opts = ["--log-max-size", "10000", "--log-keep", "100"] + (["--respawn"] if respawn else [])
    dctl.start("bye", PY, "-c", GOODBYE, opts=opts)
    log = dctl.logfile("bye")
    assert wait_for(lambda: b"ready\n" in contents(log))
    assert_ok(dctl("stop", "bye"))
    assert contents(log).split(b"\n") == [b"ready", *expected(b"bye", 2000), b""]
    assert wait_for(lambda: not writers(dctl) and not [p for p in dctl.token_pids() if "resident" in " ".join(cmdline(p))])


@pytest.mark.timeout(300)
def test_respawn_restarts_keep_every_line_of_every_run(dctl, tmp_path):
    log = tmp_path / "r.log"
    dctl.start("r", PY, "-c", FOREVER, opts=["--respawn", "--restart-delay", "0", "--min-uptime", "0", "-o", log,
                                             "--log-max-size", "200000", "--log-keep", "1000"])
    pids = []
    for _ in range(3):
        rec = dctl.record("r")
        pid = rec["pid"]
        pids.append(pid)
        assert wait_for(lambda: total_size(log) > 300_000 * len(pids), timeout=60)
        os.kill(pid, signal.SIGKILL)
        assert wait_for(lambda pid=pid: dctl.record("r")["pid"] not in (None, pid), timeout=30)
    assert wait_for(lambda: total_size(log) > 300_000 * 4, timeout=60)
    assert_ok(dctl("stop", "r"))
    runs: dict[bytes, list[int]] = {}
    for line in contents(log).split(b"\n")[:-1]:
        pid, _, number = line.partition(b" ")
        runs.setdefault(pid, []).append(int(number))
    assert [int(p) for p in runs][:3] == pids
    for numbers in runs.values():
        assert numbers == list(range(len(numbers)))  # from 0, none missing, none twice
    assert len(runs) == 4 and len(rotated(log)) > 5


def test_timestamps_in_the_daemons_time_zone(dctl, tmp_path):
    log = tmp_path / "tz.log"
    env = {**dctl.env, "TZ": "UTC"}
    code = "print('one', flush=True); import sys; print('two', file=sys.stderr)"
    dctl.start("tz", PY, "-c", code, opts=["-o", log, "--log-timestamps", "--env", "TZ=Asia/Kathmandu"], env=env)
    assert wait_for(lambda: len(log_lines(log)) == 2 and drained(dctl, "tz"))
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+05:45 "
    assert re.fullmatch(f"{stamp}one", log_lines(log)[0]) and re.fullmatch(f"{stamp}two", log_lines(log)[1])


@pytest.fixture
def syslog_socket(tmp_path):
    path = tmp_path / "dev-log"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(20)
    yield path, sock
    sock.close()


def test_syslog_alone_tags_name_and_pid_at_info_and_err(dctl, syslog_socket):
    path, sock = syslog_socket
    env = {**dctl.env, "DAEMONCTL_SYSLOG_SOCKET": str(path)}
    code = "import sys; print('to out', flush=True); print('to err', file=sys.stderr)"
    pid = dctl.start("sl", PY, "-c", code, opts=["--syslog=local4", "-o", "/dev/null"], env=env)
    got = sorted(sock.recv(65536) for _ in range(2))
    head = rb"<(\d+)>\w{3} [ \d]\d \d\d:\d\d:\d\d sl\[%d\]: " % pid
    parsed = [re.fullmatch(head + rb"(.*)", m) for m in got]
    assert all(parsed), got
    assert sorted((int(m.group(1)), m.group(2)) for m in parsed) == [(20 * 8 + 3, b"to err"), (20 * 8 + 6, b"to out")]


def test_syslog_and_files_together_under_respawn_tag_each_run(dctl, syslog_socket, tmp_path):
    path, sock = syslog_socket
    env = {**dctl.env, "DAEMONCTL_SYSLOG_SOCKET": str(path)}
    code = "import os, time; print('run', os.getpid(), flush=True); time.sleep(0.2); raise SystemExit(1)"
    dctl.start("sr", PY, "-c", code, opts=["--respawn", "--restart-delay", "0", "--min-uptime", "0", "--syslog"], env=env)
    messages = [sock.recv(65536) for _ in range(2)]
    assert_ok(dctl("stop", "sr"))
    for m in messages:
        pid = re.search(rb"sr\[(\d+)\]: run (\d+)$", m)
        assert pid and pid.group(1) == pid.group(2) and m.startswith(b"<30>"), m
    assert messages[0] != messages[1]
    assert [x.startswith("run ") for x in log_lines(dctl.logfile("sr"))][:2] == [True, True]


def mount(*args) -> bool:
    return subprocess.run(["mount", *args], capture_output=True, timeout=30).returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs")
    d = tmp_path / "disk"
    d.mkdir()
    if not mount("-t", "tmpfs", "-o", "size=256k", "tmpfs", str(d)):
        pytest.skip("cannot mount a tmpfs here")
    yield d
    subprocess.run(["umount", "-l", str(d)], capture_output=True, timeout=30)


# Phase 1: far more than the disk holds; then a marker says every write went through (never blocked);
# phase 2, once the test freed space: a few lines more.
FILLER = r"""
import os, sys, time
for i in range(20000):
    os.write(1, b"%d %s\n" % (i, b"x" * 90))
open(sys.argv[1], "w").close()
while not os.path.exists(sys.argv[2]):
    time.sleep(0.01)
for i in range(20000, 20010):
    os.write(1, b"%d after\n" % i)
"""


def test_a_full_disk_blocks_nobody_drops_whole_lines_and_says_what_it_dropped(dctl, small_disk, tmp_path):
    log = small_disk / "full.log"
    (small_disk / "filler").write_bytes(b"\0" * 150_000)
    done, go = tmp_path / "phase1-done", tmp_path / "go"
    dctl.start("full", PY, "-c", FILLER, done, go, opts=["-o", log, "--log-timestamps"])
    assert wait_for(lambda: done.exists(), timeout=60), "the program was blocked by the full disk"
    # Room for everything still on its way (the writer may lag behind by a pipe's worth).
    assert mount("-o", "remount,size=8m", str(small_disk))
    go.touch()
    assert wait_for(lambda: drained(dctl, "full"), timeout=60)
    lines = [x.split(b" ", 1)[1] for x in log.read_bytes().split(b"\n")[:-1]]  # without their stamps
    notice = re.compile(rb"daemonctl: log writer: dropped (\d+) lines \((\d+) bytes\) of output written from "
                        rb"\S+ to \S+: No space left on device")
    told = 0
    previous = -1
    for k, line in enumerate(lines):
        said = notice.fullmatch(line)
        if said:
            # What it says it dropped is exactly the gap up to the next line written.
            following = int(lines[k + 1].split(b" ")[0])
            gap = range(previous + 1, following)
            assert int(said.group(1)) == len(gap) > 0, (line, previous, following)
            assert int(said.group(2)) == sum(30 + len(b"%d " % n) + 91 for n in gap)
            told += len(gap)
            previous = following - 1
            continue
        number, _, rest = line.partition(b" ")
        assert int(number) == previous + 1, f"{int(number) - previous - 1} lines dropped without a word"
        assert rest in (b"x" * 90, b"after")  # whole, never cut
        previous = int(number)
    assert previous == 20009 and told > 0


def opened(pid: int, path: Path) -> bool:
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd) == str(path):
                return True
        except OSError:
            pass
    return False


def test_logs_n_spans_rotations_and_follow_sees_every_line_across_them(dctl, tmp_path):
    go = tmp_path / "go"
    code = ("import os, sys, time\nwhile not os.path.exists(sys.argv[1]): time.sleep(0.01)\n"
            "for i in range(20000):\n    os.write(1, b'%d\\n' % i)\n    i % 50 or time.sleep(0.001)\ntime.sleep(300)")
    dctl.start("fol", PY, "-c", code, go, opts=["--log-max-size", "4000", "--log-keep", "1000"])
    log = dctl.logfile("fol")
    assert wait_for(log.exists)
    follower = dctl.popen("logs", "-n", "0", "-f", "fol", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    got: list[str] = []
    threading.Thread(target=lambda: got.extend(line.rstrip("\n") for line in follower.stdout), daemon=True).start()
    assert wait_for(lambda: opened(follower.pid, log))
    go.touch()
    if not wait_for(lambda: got[-1:] == ["19999"], timeout=120):
        follower.kill()
        pytest.fail(f"{got[-3:]} {follower.stderr.read()}")
    follower.send_signal(signal.SIGINT)
    follower.wait(timeout=10)
    assert got == [str(n) for n in range(20000)]  # every line once, across some 30 rotations
    cp = dctl("logs", "-n", "3000", "fol")
    assert_ok(cp)
    assert cp.stdout.split("\n") == [str(n) for n in range(17000, 20000)] + [""]
    assert len(rotated(log)) > 10


def _is_new_log(log: Path) -> bool:
    """The log is a file of its own again (not the planted hard link), holding the second line."""
    try:
        return log.stat().st_nlink == 1 and log.read_bytes().endswith(b"2\n")
    except FileNotFoundError:
        return False  # between the writer's rename and its create


def test_rotation_in_a_directory_of_the_daemons_user_never_writes_through_its_links(dctl, top, home):
    secret = top / "root-only"
    secret.write_bytes(b"root's\n")
    os.chmod(secret, 0o644)
    log = home / "out.log"
    release = top / "release"
    script = (f"printf '%099d\\n' 1; while [ ! -e {release} ]; do sleep 0.02; done; "
              "printf '%099d\\n' 2; exec sleep 300")
    dctl.start("tr", "/bin/sh", "-c", script, opts=["-u", "nobody", "-o", log, "--log-max-size", "150"])
    assert wait_for(lambda: log.exists() and log.stat().st_size == 100)
    assert log.stat().st_uid == NOBODY_UID
    # The daemon's user plants links where the writer rotates to and reopens.
    (home / "out.log.1").symlink_to(secret)
    log.unlink()
    os.link(secret, log)  # a hard link to root's file, as the new log
    release.touch()
    assert wait_for(lambda: _is_new_log(log), timeout=20)
    assert secret.read_bytes() == b"root's\n"
    assert log.stat().st_uid == NOBODY_UID  # created with the user's rights
    assert (home / "out.log.2").is_symlink()  # moved, never followed


def test_the_log_options_are_recorded_and_kept_by_restart(dctl, tmp_path):
    code = "import os, time; print('pid', os.getpid(), flush=True); time.sleep(300)"
    dctl.start("kept", PY, "-c", code, opts=["--log-timestamps", "--log-max-size", "1M", "--log-keep", "2",
                                              "--syslog=local1"])
    rec = dctl.record("kept")
    assert (rec["log_timestamps"], rec["log_max_size"], rec["log_keep"], rec["syslog"]) == (True, 1 << 20, 2, "local1")
    assert_ok(dctl("restart", "kept"))
    log = dctl.logfile("kept")
    assert wait_for(lambda: len(log_lines(log)) == 2)
    assert all(re.fullmatch(r"\S+T\S+ pid \d+", x) for x in log_lines(log)), log_lines(log)
    assert len(writers(dctl)) == 1  # the first run's writer ended with it


@pytest.mark.parametrize("opts, words", [
    (["--log-keep", "3"], "--log-keep needs --log-max-size"),
    (["--log-max-size", "0"], "--log-max-size"),
    (["--log-max-size", "12X"], "--log-max-size"),
    (["--log-max-size", "1M", "--log-keep", "1001"], "--log-keep"),
    (["--syslog=loud"], "--syslog"),
    (["--instances", "2", "--respawn", "--log-timestamps"], "--instances and --respawn"),  # the set's supervisor writes no logs
])
def test_bad_log_options_are_one_line_and_exit_2_leaving_nothing(dctl, opts, words):
    cp = dctl("start", "-n", "bad", *opts, SLEEP, "100")
    assert cp.returncode == 2 and cp.stderr.count("\n") == 1 and words in cp.stderr, cp.stderr
    assert not list(dctl.state_dir.glob("bad*.json")) and writers(dctl) == []


def test_a_start_that_fails_within_wait_shows_the_last_lines_the_writer_wrote(dctl):
    cp = dctl("start", "-n", "boom", "--wait", "3", "--log-timestamps", "--",
              "/bin/sh", "-c", "echo first words; echo last words >&2; exit 3")
    assert cp.returncode == 1 and "last words" in cp.stderr and "first words" in cp.stderr, cp.stderr
    assert writers(dctl) == [] and not dctl.pidfile("boom").exists()


BURST = r"""
import os, sys, time
block = (b"x" * 79 + b"\n") * 409  # 32 KiB: a read of the writer's
for _ in range(2048):  # 64 MiB
    os.write(1, block)
print("done", flush=True)
time.sleep(300)
"""


@pytest.mark.parametrize("opts", [["--log-timestamps"], ["--log-max-size", "16M"]], ids=["stamping", "rotating"])
@pytest.mark.parametrize("respawn", [False, True], ids=["writer", "supervisor"])
def test_copying_logs_does_not_fault_its_buffers_in_again_at_every_read(dctl, opts, respawn):
    """The process that copies the logs keeps its heap's top (supervise.resident_environ): glibc's default
    handed a read's buffers back and faulted them in again, 16,000 page faults per 64 MiB, twice the CPU."""
    extra = ["--respawn"] if respawn else []
    assert_ok(dctl("start", "-n", "burst", *opts, *extra, "--", PY, "-c", BURST))
    log = dctl.logfile("burst")
    assert wait_for(lambda: any(line.endswith("done") for line in log_lines(log)[-1:]), timeout=120)
    if respawn:
        copier = dctl.record("burst")["supervisor_pid"]
    else:
        [copier] = writers(dctl)
    minor_faults = int(Path(f"/proc/{copier}/stat").read_text().rpartition(")")[2].split()[7])
    assert minor_faults < 3000, minor_faults
    assert_ok(dctl("stop", "burst"))
