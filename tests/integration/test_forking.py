"""CONTRACT "Programs that daemonize themselves (--forking)" (issue 14), with a test program of its own
that forks, calls setsid, forks again, writes its pidfile and exits 0, as nginx or redis do."""
import os
import signal
import stat
import subprocess

import pytest

from .helpers import (
    PY,
    SIGNAL_LOGGER,
    SLEEP,
    alive,
    assert_ok,
    assert_one_error,
    cgroups_usable,
    error_lines,
    log_lines,
    proc_stat,
    read_pidfile,
    wait_for,
    wait_gone,
)

pytestmark = pytest.mark.integration

# argv: PIDFILE (or -) and MODE: ok (removes its pidfile on TERM), keep (leaves it), exitN (fails
# before forking), nopidfile, canary=PID (writes another's PID), symlink=PATH or fifo (plants one
# at PIDFILE), wrapper (the daemon's parent stays), lines (its pidfile goes on after the PID, as postmaster.pid), two (leaves two
# processes), slow (its first process waits before forking).
# The pidfile is mode 0640: daemonctl writes 0644.
SELF_DAEMON = r"""
import os, signal, sys, time
pidfile, mode = sys.argv[1], sys.argv[2]
pidfile = None if pidfile == "-" else pidfile
if mode.startswith("exit"):
    print("cannot start: bad configuration", flush=True)
    sys.exit(int(mode[4:]))
if mode == "slow":
    print("first process waits", flush=True)
    time.sleep(300)
if os.fork():
    os._exit(0)
os.setsid()
if mode == "two" and os.fork() == 0:  # another process left behind, beside the daemon
    time.sleep(300)
    os._exit(0)
if os.fork():
    os._exit(0)
if mode == "wrapper" and os.fork():  # stays, the daemon's parent: the daemon is never handed over
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    while True:
        time.sleep(1)
if mode.startswith("symlink="):
    os.symlink(mode[8:], pidfile)
elif mode == "fifo":
    os.mkfifo(pidfile)
elif pidfile and mode != "nopidfile":
    pid = int(mode[7:]) if mode.startswith("canary=") else os.getpid()
    fd = os.open(pidfile + ".new", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    extra = "/var/lib/postgresql/15/main\n5432\n" if mode == "lines" else ""
    os.write(fd, f"{pid}\n{extra}".encode())
    os.close(fd)
    os.rename(pidfile + ".new", pidfile)
def on(num, frame):
    print(signal.Signals(num).name[3:], flush=True)
    if num == signal.SIGTERM:
        if pidfile and mode == "ok":
            os.unlink(pidfile)
        sys.exit(0)
signal.signal(signal.SIGTERM, on)
signal.signal(signal.SIGHUP, on)
if os.fork() == 0:  # a worker, in the daemon's group (as nginx's are)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    while True:
        time.sleep(1)
print("daemon up", os.getpid(), flush=True)
while True:
    time.sleep(0.05)
"""


def program(pidfile="-", mode="ok"):
    return [PY, "-c", SELF_DAEMON, str(pidfile), mode]


def first_line(dctl, name):
    assert wait_for(lambda: any(line.startswith("daemon up") for line in log_lines(dctl.logfile(name))))
    return next(line for line in log_lines(dctl.logfile(name)) if line.startswith("daemon up"))


def assert_nothing_left(dctl, name):
    assert wait_for(lambda: dctl.token_pids() == []), f"left running: {dctl.token_pids()}"
    assert not dctl.pidfile(name).exists()
    assert not dctl.recordfile(name).exists()


def test_adopts_the_single_process_left_behind(dctl):
    cp = dctl("start", "-n", "selfd", "--forking", *program())
    assert_ok(cp)
    pid = dctl.track(dctl.pid("selfd"))
    assert first_line(dctl, "selfd") == f"daemon up {pid}"
    st = proc_stat(pid)
    # Forked from the leader of the session the program created, which has exited.
    assert st["session"] == st["pgrp"] != pid and not alive(st["session"])
    assert f"(pid {pid})" in cp.stderr
    rec = dctl.record("selfd")
    assert (rec["pid"], rec["starttime"], rec["forking"]) == (pid, st["starttime"], True)
    assert (rec["sid"], rec["pgid"]) == (st["session"], st["pgrp"])
    status = dctl("status", "--json", "selfd")
    assert status.returncode == 0 and f'"pid": {pid}' in status.stdout


def test_adopts_the_pid_the_program_writes_and_leaves_its_pidfile_alone(dctl, tmp_path):
    own = tmp_path / "selfd.pid"
    assert_ok(dctl("start", "-n", "selfd", "--forking", "--pid-from", own, *program(own, "keep")))
    pid = dctl.track(read_pidfile(own))
    assert dctl.pid("selfd") == pid, "daemonctl's pidfile names the adopted daemon"
    assert stat.S_IMODE(own.stat().st_mode) == 0o640
    assert_ok(dctl("stop", "selfd"))
    assert wait_gone(pid)
    assert own.read_text() == f"{pid}\n", "the program's own pidfile is the program's"
    assert not dctl.pidfile("selfd").exists()
    assert dctl.token_pids() == []


def test_p_naming_the_programs_pidfile_is_left_to_the_program(dctl, tmp_path):
    own = tmp_path / "selfd.pid"
    assert_ok(dctl("start", "-n", "selfd", "-p", own, "--forking", "--pid-from", own, *program(own, "keep")))
    pid = dctl.track(read_pidfile(own))
    assert stat.S_IMODE(own.stat().st_mode) == 0o640, "daemonctl rewrote the program's pidfile"
    assert dctl("status", "selfd").returncode == 0
    cp = dctl("stop", "selfd")
    assert_ok(cp)
    assert "stale" not in cp.stderr
    assert wait_gone(pid)
    assert own.read_text() == f"{pid}\n" and stat.S_IMODE(own.stat().st_mode) == 0o640
    assert dctl("status", "selfd").returncode == 3


def test_signal_restart_and_stop_act_on_the_adopted_daemon(dctl, tmp_path):
    own = tmp_path / "selfd.pid"
    assert_ok(dctl("start", "-n", "selfd", "--forking", "--pid-from", own, *program(own)))
    pid = dctl.track(dctl.pid("selfd"))
    first_line(dctl, "selfd")
    assert_ok(dctl("signal", "selfd", "HUP"))
    assert wait_for(lambda: "HUP" in log_lines(dctl.logfile("selfd")))
    assert alive(pid)
    assert_ok(dctl("restart", "selfd"))
    new = dctl.track(dctl.pid("selfd"))
    assert new != pid and not alive(pid) and alive(new)
    assert read_pidfile(own) == new
    workers = [p for p in dctl.token_pids() if p != new]
    assert workers and all(proc_stat(w)["pgrp"] == proc_stat(new)["pgrp"] for w in workers)
    cp = dctl("stop", "selfd")
    assert_ok(cp)
    assert f"stopped selfd (pid {new})" in cp.stderr
    assert dctl.token_pids() == [], "a worker outlived stop"
    assert not own.exists(), "the program removes its pidfile itself"


def test_wait_watches_the_adopted_daemon(dctl):
    assert_ok(dctl("start", "-n", "selfd", "--forking", "--wait", "0.5", *program()))
    assert alive(dctl.track(dctl.pid("selfd")))


def test_a_first_process_that_fails_fails_the_start(dctl):
    cp = dctl("start", "-n", "selfd", "--forking", *program("-", "exit3"))
    assert_one_error(cp, 1)
    assert "exited with status 3" in error_lines(cp.stderr)[0]
    assert "cannot start: bad configuration" in cp.stderr
    assert_nothing_left(dctl, "selfd")


def test_a_pidfile_naming_a_canary_fails_and_signals_nothing(dctl, tmp_path):
    canary_log = tmp_path / "canary.log"
    with canary_log.open("w") as out:
        canary = dctl.spawn(PY, "-c", SIGNAL_LOGGER, "TERM,HUP,USR1,USR2,INT", stdout=out, start_new_session=True)
    assert wait_for(lambda: canary_log.read_text() == "ready\n")
    own = tmp_path / "selfd.pid"
    cp = dctl("start", "-n", "selfd", "--forking", "--pid-from", own, *program(own, f"canary={canary.pid}"))
    assert_one_error(cp, 1)
    assert f"names pid {canary.pid}, which is not a process the program started" in cp.stderr
    assert canary.poll() is None and canary_log.read_text() == "ready\n", "the canary was signalled"
    assert read_pidfile(own) == canary.pid, "the program's pidfile was touched"
    dctl.tracked.remove(canary)
    canary.kill()
    canary.wait()
    assert_nothing_left(dctl, "selfd")


def test_a_pidfile_never_written_times_out(dctl, tmp_path):
    own = tmp_path / "selfd.pid"
    cp = dctl("start", "-n", "selfd", "--forking", "--pid-from", own, "--ready-timeout", "1", *program(own, "nopidfile"))
    assert_one_error(cp, 1)
    assert f"pidfile {own} was never written" in cp.stderr
    assert_nothing_left(dctl, "selfd")


def test_several_processes_left_without_pid_from_fail_and_are_stopped(dctl):
    cp = dctl("start", "-n", "selfd", "--forking", *program("-", "two"))
    assert_one_error(cp, 1)
    assert "--pid-from" in error_lines(cp.stderr)[0]
    assert_nothing_left(dctl, "selfd")


def test_a_first_process_that_never_exits_times_out(dctl):
    cp = dctl("start", "-n", "selfd", "--forking", "--ready-timeout", "1", *program("-", "slow"))
    assert_one_error(cp, 1)
    assert "did not exit within 1s" in cp.stderr
    assert_nothing_left(dctl, "selfd")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["INT", "TERM", "HUP"])
def test_interrupted_wait_undoes_the_start(dctl, sig):
    proc = dctl.popen("start", "-n", "selfd", "--forking", "--ready-timeout", "120", *program("-", "slow"),
                      stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: "first process waits" in log_lines(dctl.logfile("selfd")))
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err
    assert len(error_lines(err)) == 1 and "interrupted by SIG" in err
    assert_nothing_left(dctl, "selfd")


def test_plain_start_of_a_program_that_leaves_processes(dctl):
    """Without --forking: the program exits 0 at once, its child runs on (in its group)."""
    assert_ok(dctl("start", "-n", "bg", "--", "/bin/sh", "-c", f"{SLEEP} 300 & exit 0"))
    first = dctl.record("bg")["pid"]
    assert wait_gone(first)
    left = dctl.token_pids()
    assert len(left) == 1
    cp = dctl("status", "bg")
    assert cp.returncode == 1
    assert f"pid {left[0]}" in cp.stdout and "--forking" in cp.stdout
    js = dctl("status", "--json", "bg")
    assert '"state": "dead"' in js.stdout and f"{left[0]}" in js.stdout
    cp = dctl("stop", "bg")
    assert_ok(cp)
    assert f"pid {left[0]}" in cp.stderr
    assert wait_gone(left[0])
    assert dctl("status", "bg").returncode == 3


def test_plain_start_with_p_on_the_programs_own_pidfile_never_removes_it(dctl, tmp_path):
    """The defect of issue 14: `stop` called the live server's pidfile stale and deleted it."""
    own = tmp_path / "r.pid"
    assert_ok(dctl("start", "-n", "r", "-p", own, "--", *program(own, "keep")))
    assert wait_for(lambda: own.exists() and stat.S_IMODE(own.stat().st_mode) == 0o640)
    server = dctl.track(read_pidfile(own))
    first_line(dctl, "r")
    cp = dctl("status", "r")
    assert cp.returncode == 1 and "--forking" in cp.stdout
    cp = dctl("stop", "r")
    assert_ok(cp)
    assert "stale" not in cp.stderr and "left it alone" in cp.stderr
    assert own.read_text() == f"{server}\n", "daemonctl deleted or rewrote the program's pidfile"
    # In the daemon's cgroup, the server it left is stopped with it; without cgroups it is out of
    # stop's reach (it double-forked away before stop looked).
    assert wait_gone(server, timeout=1) if cgroups_usable() else alive(server)


def test_respawn_adopts_each_runs_daemon(dctl, tmp_path):
    own = tmp_path / "selfd.pid"
    assert_ok(dctl("start", "-n", "selfd", "--respawn", "--restart-delay", "0.1", "--forking", "--pid-from", own,
                   *program(own)))
    supervisor = dctl.track(dctl.pid("selfd"))
    first = dctl.record("selfd")["pid"]
    assert read_pidfile(own) == first and first != supervisor
    assert proc_stat(first)["ppid"] == supervisor, "the daemon is handed to its supervisor, the subreaper"
    os.kill(first, signal.SIGKILL)

    def adopted_again():
        # Each run's first process is recorded before it runs, then the daemon it leaves.
        rec = dctl.record("selfd")
        return rec["restarts"] == 1 and rec["pid"] != first and own.exists() and read_pidfile(own) == rec["pid"]

    assert wait_for(adopted_again)
    second = dctl.record("selfd")["pid"]
    assert proc_stat(second)["ppid"] == supervisor and dctl.pid("selfd") == supervisor
    assert dctl.record("selfd")["pgid"] == proc_stat(second)["pgrp"]
    assert_ok(dctl("signal", "selfd", "HUP"))
    assert wait_for(lambda: "HUP" in log_lines(dctl.logfile("selfd")))
    cp = dctl("status", "selfd")
    assert cp.returncode == 0 and f"pid {second}" in cp.stdout and "1 restart" in cp.stdout
    assert not [p for p in dctl.token_pids() if proc_stat(p) and proc_stat(p)["state"] == "Z"], "unreaped children"
    assert_ok(dctl("stop", "selfd"))
    assert dctl.token_pids() == [], "a daemon, a worker or the supervisor outlived stop"


def test_respawn_whose_first_run_fails_fails_the_start(dctl):
    cp = dctl("start", "-n", "selfd", "--respawn", "--forking", *program("-", "exit3"))
    assert_one_error(cp, 1)
    assert "no daemon to adopt" in error_lines(cp.stderr)[0]
    assert "exited with status 3" in cp.stderr, "the log's last lines say why"
    assert_nothing_left(dctl, "selfd")


@pytest.mark.parametrize("plant", ["symlink", "fifo"])
def test_a_pidfile_its_user_planted_is_never_followed_nor_read(dctl, home, tmp_path, plant):
    """--user nobody may write where its pidfile goes: a symlink to root's file naming a canary,
    or a FIFO, is refused (exit 4), read with nobody's rights and never blocking."""
    canary = dctl.spawn(SLEEP, "300", start_new_session=True)
    target = tmp_path / "roots.pid"
    target.write_text(f"{canary.pid}\n")
    own = home / "selfd.pid"
    mode = f"symlink={target}" if plant == "symlink" else "fifo"
    cp = dctl("start", "-n", "selfd", "-u", "nobody", "--forking", "--pid-from", own, "/usr/bin/python3", "-c",
              SELF_DAEMON, own, mode)
    assert_one_error(cp, 4)
    assert ("symbolic link" if plant == "symlink" else "not a regular file") in error_lines(cp.stderr)[0]
    assert canary.poll() is None
    dctl.tracked.remove(canary)
    canary.kill()
    canary.wait()
    assert_nothing_left(dctl, "selfd")


def test_interrupted_respawn_adoption_undoes_the_start(dctl):
    """The supervisor adopts before it reports: the interrupt is acted on once it has (here when
    the first process is given up, after --ready-timeout), and the start is undone."""
    proc = dctl.popen("start", "-n", "selfd", "--respawn", "--forking", "--ready-timeout", "3",
                      *program("-", "slow"), stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: "first process waits" in log_lines(dctl.logfile("selfd")))
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert len(error_lines(err)) == 1 and "interrupted by SIGINT" in err
    assert_nothing_left(dctl, "selfd")


def test_plain_wait_of_a_program_that_daemonizes_fails_and_leaves_nothing(dctl):
    """The issue's `--wait 1`: "exited with status 0", exit 1, and the daemon it forked kept running."""
    cp = dctl("start", "-n", "selfd", "--wait", "5", *program())
    assert_one_error(cp, 1)
    line = error_lines(cp.stderr)[0]
    assert "exited with status 0 within 5s" in line and "--forking" in line
    assert_nothing_left(dctl, "selfd")


def test_the_log_writer_is_never_taken_for_what_the_program_left(dctl):
    """With a log writer (--log-timestamps), daemonctl becomes the subreaper only after starting it."""
    assert_ok(dctl("start", "-n", "selfd", "--forking", "--log-timestamps", *program()))
    pid = dctl.track(dctl.pid("selfd"))
    assert wait_for(lambda: any(line.endswith(f"daemon up {pid}") for line in log_lines(dctl.logfile("selfd"))))
    assert_ok(dctl("stop", "selfd"))
    assert wait_for(lambda: dctl.token_pids() == [])


def test_a_set_of_forking_instances_adopts_each_its_own(dctl):
    """One daemonctl starts both: the first instance's daemon, its child as subreaper, is never
    taken for what the second one left (nor stopped when the second fails)."""
    assert_ok(dctl("start", "-n", "set", "--instances", "2", "--forking", *program()))
    pids = [dctl.record(f"set@{i}")["pid"] for i in (1, 2)]
    dctl.track(pids[0])
    dctl.track(pids[1])
    assert pids[0] != pids[1] and all(alive(p) for p in pids)
    for i, pid in enumerate(pids, 1):
        assert wait_for(lambda i=i, pid=pid: f"daemon up {pid}" in log_lines(dctl.logfile(f"set@{i}")))
    assert_ok(dctl("stop", "set"))
    assert wait_for(lambda: dctl.token_pids() == [])


def test_a_pidfile_that_goes_on_after_the_pid_is_read_by_its_first_line(dctl, tmp_path):
    own = tmp_path / "postmaster.pid"
    assert_ok(dctl("start", "-n", "pg", "--forking", "--pid-from", own, *program(own, "lines")))
    pid = dctl.track(dctl.pid("pg"))
    assert own.read_text().startswith(f"{pid}\n/var/lib/")
    assert_ok(dctl("stop", "pg"))
    assert wait_gone(pid)


def test_the_daemons_cgroup_proves_a_process_the_subreaper_never_got(dctl, tmp_path):
    """A daemon whose parent stays is never handed to daemonctl: its cgroup membership proves it
    the program's where cgroups are usable; else --pid-from naming it fails, signalling nothing."""
    dctl.start("probe", SLEEP, "300")
    cgroups = dctl.record("probe")["cgroup"] is not None
    assert_ok(dctl("stop", "probe"))
    own = tmp_path / "selfd.pid"
    cp = dctl("start", "-n", "selfd", "--forking", "--pid-from", own, "--ready-timeout", "2",
              *program(own, "wrapper"))
    if cgroups:
        assert_ok(cp)
        pid = dctl.track(dctl.pid("selfd"))
        assert pid == read_pidfile(own) and alive(proc_stat(pid)["ppid"]), "its parent, the wrapper, stays"
        assert_ok(dctl("stop", "selfd"))
        assert wait_for(lambda: dctl.token_pids() == []), "the wrapper or the daemon outlived stop"
    else:
        assert_one_error(cp, 1)
        assert "whose parent (started by the program) did not exit" in cp.stderr
        assert_nothing_left(dctl, "selfd")


def test_plain_start_of_a_daemonizing_program_in_its_cgroup(dctl):
    """Without --forking, the daemon it forked left its group and session: its cgroup still holds it."""
    assert_ok(dctl("start", "-n", "bg", *program()))
    first = dctl.record("bg")["pid"]
    assert wait_gone(first)
    assert wait_for(lambda: len(dctl.token_pids()) == 2)  # the daemon and its worker
    left = sorted(dctl.token_pids())
    cp = dctl("status", "bg")
    assert cp.returncode == 1
    if dctl.record("bg")["cgroup"] is None:
        # Without cgroups a daemon in a session of its own cannot be found: status says dead.
        for pid in left:
            dctl.track(pid)
        return
    assert all(f"{p}" in cp.stdout for p in left) and "--forking" in cp.stdout
    cp = dctl("stop", "bg")
    assert_ok(cp)
    assert all(wait_gone(p) for p in left)
