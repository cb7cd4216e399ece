"""CONTRACT "What a started daemon looks like": the seven properties, checked in /proc
right after `start` exits 0."""
import os
import pty
import subprocess
from pathlib import Path

import pytest

from .helpers import (
    PY,
    SH,
    SLEEP,
    ancestors,
    assert_ok,
    cmdline,
    environ,
    group_members,
    proc_stat,
    proc_status,
    read_pidfile,
    wait_for,
)

pytestmark = pytest.mark.integration

SH_PY_CODE = "import time\nwhile True: time.sleep(1)"


# 1. The PID in the pidfile is PROGRAM itself, exec'd.
def test_pidfile_pid_is_the_program_itself(dctl):
    pid = dctl.start("sl", SLEEP, "300")
    assert os.path.realpath(f"/proc/{pid}/exe") == os.path.realpath(SLEEP)
    assert cmdline(pid)[1:] == ["300"]


def test_pidfile_pid_is_the_python_program_not_a_wrapper(dctl):
    pid = dctl.start("py", PY, "-c", SH_PY_CODE)
    assert os.path.realpath(f"/proc/{pid}/exe") == os.path.realpath(PY)
    assert cmdline(pid)[1:] == ["-c", SH_PY_CODE]


# 2. Detached: parent is init/subreaper, new session, not a session leader, no ctty.
def test_detached_from_caller_session_and_terminal(dctl):
    """daemonctl runs as a session leader holding a pty as its controlling terminal."""
    master, slave = pty.openpty()
    tty_name = os.ttyname(slave)

    def acquire_ctty():
        os.setsid()
        os.close(os.open(tty_name, os.O_RDWR))  # first tty a session leader opens: ctty

    try:
        caller = subprocess.Popen(dctl.argv("start", "-n", "det", SLEEP, "300"), env=dctl.env,
                                  stdin=slave, stdout=slave, stderr=slave,
                                  preexec_fn=acquire_ctty)
        rc = caller.wait(timeout=30)
    finally:
        os.close(slave)
        os.close(master)
    assert rc == 0
    pid = dctl.track(dctl.pid("det"))
    st = proc_stat(pid)
    assert st["ppid"] == 1 or st["ppid"] in ancestors(), (
        f"parent {st['ppid']} is neither init nor a subreaper above the caller")
    assert st["session"] != caller.pid, "daemon stayed in the caller's session"
    assert st["session"] != os.getsid(0)
    assert st["session"] != pid, "daemon is a session leader (no double fork)"
    assert st["tty_nr"] == 0, "daemon has a controlling terminal"


def test_parent_is_init_or_subreaper_plain_call(dctl):
    pid = dctl.start("par", SLEEP, "300")
    st = proc_stat(pid)
    assert st["ppid"] == 1 or st["ppid"] in ancestors()
    assert st["session"] != os.getsid(0) and st["session"] != pid
    assert st["tty_nr"] == 0


# 3. stdin /dev/null, stdout/stderr the logs, opened for append, never truncated.
def _fd_target(pid, fd):
    return os.readlink(f"/proc/{pid}/fd/{fd}")


def _fd_flags(pid, fd):
    for line in Path(f"/proc/{pid}/fdinfo/{fd}").read_text().splitlines():
        if line.startswith("flags:"):
            return int(line.split()[1], 8)
    raise AssertionError("no flags in fdinfo")


def test_stdio_default_log_append_not_truncated(dctl):
    dctl.state_dir.mkdir(mode=0o700)
    log = dctl.logfile("io")
    log.write_text("old line\n")
    prog = "echo out-line; echo err-line >&2; exec sleep 300"
    pid = dctl.start("io", SH, "-c", prog)
    assert wait_for(lambda: "err-line" in log.read_text())
    text = log.read_text()
    assert text.startswith("old line\n"), text
    assert "out-line\n" in text and "err-line\n" in text
    assert _fd_target(pid, 0) == "/dev/null"
    for fd in (1, 2):
        assert _fd_target(pid, fd) == str(log.resolve())
        assert _fd_flags(pid, fd) & os.O_APPEND, f"fd {fd} not opened with O_APPEND"


def test_stdio_separate_logs_append_not_truncated(dctl, tmp_path):
    out, err = tmp_path / "out.log", tmp_path / "err.log"
    out.write_text("old out\n")
    err.write_text("old err\n")
    prog = "echo out-line; echo err-line >&2; exec sleep 300"
    pid = dctl.start("io2", SH, "-c", prog, opts=["-o", out, "-e", err])
    assert wait_for(lambda: "err-line" in err.read_text() and "out-line" in out.read_text())
    assert out.read_text() == "old out\nout-line\n"
    assert err.read_text() == "old err\nerr-line\n"
    assert _fd_target(pid, 0) == "/dev/null"
    assert _fd_target(pid, 1) == str(out) and _fd_target(pid, 2) == str(err)
    assert _fd_flags(pid, 1) & os.O_APPEND and _fd_flags(pid, 2) & os.O_APPEND


@pytest.mark.parametrize("opts, fd1, fd2", [
    (["-o", "/dev/null"], "/dev/null", "/dev/null"),
    (["-o", "{tmp}/out.log"], "{tmp}/out.log", "{tmp}/out.log"),   # stderr follows stdout
    (["-e", "{tmp}/err.log"], "{state}/std.log", "{tmp}/err.log"),
    (["-o", "/dev/null", "-e", "{tmp}/err.log"], "/dev/null", "{tmp}/err.log"),
])
def test_stdio_targets(dctl, tmp_path, opts, fd1, fd2):
    def fill(s):
        return s.replace("{tmp}", str(tmp_path)).replace("{state}", str(dctl.state_dir))
    pid = dctl.start("std", SLEEP, "300", opts=[fill(o) for o in opts])
    assert (_fd_target(pid, 0), _fd_target(pid, 1), _fd_target(pid, 2)) == (
        "/dev/null", fill(fd1), fill(fd2))


# 4. No file descriptor but 0, 1, 2.
def test_no_leaked_file_descriptors(dctl, tmp_path):
    leak = open(tmp_path / "leak.txt", "w")
    r, w = os.pipe()
    try:
        cp = dctl("start", "-n", "fds", SLEEP, "300", pass_fds=(leak.fileno(), r, w))
    finally:
        leak.close()
        os.close(r)
        os.close(w)
    assert_ok(cp)
    pid = dctl.track(dctl.pid("fds"))

    def open_fds() -> dict[str, str]:
        found = {}
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                found[fd] = _fd_target(pid, fd)
            except FileNotFoundError:
                pass  # closed meanwhile
        return found

    # A leaked descriptor stays open for good; sleep's own start-up opens (and closes) a
    # locale file or two, which a loaded machine may let us see: wait for those to go.
    assert wait_for(lambda: sorted(open_fds(), key=int) == ["0", "1", "2"]), open_fds()


# 5. Working directory and umask.
@pytest.mark.parametrize("opts, cwd, umask", [
    ([], "/", "0022"),
    (["-d", "{tmp}", "--umask", "077"], "{tmp}", "0077"),
    (["--chdir", "{tmp}", "--umask", "0027"], "{tmp}", "0027"),
    (["--umask", "0"], "/", "0000"),
])
def test_cwd_and_umask(dctl, tmp_path, opts, cwd, umask):
    opts = [o.replace("{tmp}", str(tmp_path)) for o in opts]
    pid = dctl.start("cu", SLEEP, "300", opts=opts)
    assert os.readlink(f"/proc/{pid}/cwd") == cwd.replace("{tmp}", str(tmp_path))
    assert proc_status(pid)["Umask"] == umask


def test_relative_paths_resolved_against_callers_cwd(dctl, tmp_path):
    (tmp_path / "sub").mkdir()
    script = tmp_path / "prog.sh"
    script.write_text("#!/bin/sh\necho from-script\nexec sleep 300\n")
    script.chmod(0o755)
    cp = dctl("start", "-n", "rel", "-o", "rel.log", "-p", "rel.pid", "-d", "sub", "./prog.sh",
              cwd=tmp_path)
    assert_ok(cp)
    pid = dctl.track(read_pidfile(tmp_path / "rel.pid"))
    assert os.readlink(f"/proc/{pid}/cwd") == str(tmp_path / "sub")
    assert wait_for(lambda: "from-script" in (tmp_path / "rel.log").read_text())
    assert os.readlink(f"/proc/{pid}/fd/1") == str(tmp_path / "rel.log")


def test_environment_inherited_and_set(dctl):
    pid = dctl.start("env", SLEEP, "300", opts=["--env", "FOO=bar baz", "--env", "EMPTY=",
                                              "--env", "EQ=a=b"])
    env = environ(pid)
    assert env["FOO"] == "bar baz" and env["EMPTY"] == "" and env["EQ"] == "a=b"
    assert env.get("DAEMONCTL_ITEST_TOKEN") == dctl.token  # caller's environment inherited


# 6. No signal ignored or blocked, whatever the caller had.
SIGWRAP = r"""
import os, signal, sys
signal.signal(signal.SIGHUP, signal.SIG_IGN)
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGQUIT, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGTERM, signal.SIGCHLD})
os.execv(sys.argv[1], sys.argv[1:])
"""


def test_no_signal_ignored_or_blocked(dctl):
    # the wrapper's Python also leaves SIGPIPE and SIGXFSZ ignored across exec
    cp = subprocess.run([PY, "-c", SIGWRAP, *dctl.argv("start", "-n", "sig", SLEEP, "300")],
                        env=dctl.env, capture_output=True, text=True, timeout=30,
                        stdin=subprocess.DEVNULL)
    assert_ok(cp)
    pid = dctl.track(dctl.pid("sig"))
    status = proc_status(pid)
    assert int(status["SigIgn"], 16) == 0, f"ignored signals leak: SigIgn={status['SigIgn']}"
    assert int(status["SigBlk"], 16) == 0, f"blocked signals leak: SigBlk={status['SigBlk']}"


# 7. Leader of its own process group, which holds everything it starts.
def test_own_process_group_holds_children(dctl):
    pid = dctl.start("grp", SH, "-c", "sleep 300 & sleep 300 & wait")
    st = proc_stat(pid)
    assert st["pgrp"] == pid
    assert wait_for(lambda: len(group_members(pid)) == 3), group_members(pid)
    for member in group_members(pid):
        assert proc_stat(member)["session"] == st["session"]
    assert os.getpgid(0) != pid


# The C library refuses to change the signals it reserves (32, 33), but a caller can
# leave them ignored through the raw system call; they must not leak either.
RAWIGN = r"""
import ctypes, os, sys
buf = ctypes.create_string_buffer(64)
ctypes.memmove(buf, ctypes.byref(ctypes.c_void_p(1)), 8)  # handler = SIG_IGN
libc = ctypes.CDLL(None)
for sig in (32, 33):
    libc.syscall(13, sig, buf, None, 8)  # rt_sigaction on x86_64
os.execv(sys.argv[1], sys.argv[1:])
"""


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="raw rt_sigaction number is x86_64's")
def test_reserved_signals_ignored_by_caller_are_reset(dctl):
    premise = subprocess.run([PY, "-c", RAWIGN, "/bin/grep", "SigIgn", "/proc/self/status"],
                             capture_output=True, text=True, timeout=30)
    assert int(premise.stdout.split()[1], 16) & 0x180000000 == 0x180000000, premise.stdout
    cp = subprocess.run([PY, "-c", RAWIGN, *dctl.argv("start", "-n", "raw", SLEEP, "300")],
                        env=dctl.env, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert_ok(cp)
    pid = dctl.track(dctl.pid("raw"))
    assert int(proc_status(pid)["SigIgn"], 16) == 0, proc_status(pid)["SigIgn"]
