"""Issue 10, defects 6, 7 and 9: races and limits that left processes, crashes or tracebacks.

The races are made deterministic with DAEMONCTL_TEST_PAUSE_AT=STEP (the process that
reaches STEP stops itself; the test acts, then continues or kills it).
"""
import os
import resource
import signal
import subprocess
from pathlib import Path

import pytest

from .helpers import (
    SH,
    SLEEP,
    alive,
    assert_ok,
    assert_one_error,
    environ,
    group_members,
    log_lines,
    proc_stat,
    wait_for,
    wait_gone,
)
from .test_full_disk import mount, mountpoint  # noqa: F401 (a fixture)

pytestmark = pytest.mark.integration

PAUSE_VAR = "DAEMONCTL_TEST_PAUSE_AT"
CRASH_VAR = "DAEMONCTL_TEST_CRASH_AT"


def stopped(pid: int) -> bool:
    return (proc_stat(pid) or {}).get("state") == "T"


def pausing(dctl, step: str) -> dict:
    return dict(dctl.env, **{PAUSE_VAR: step})


@pytest.mark.parametrize("command", ["start", "restart"])
def test_signal_kill_between_commit_and_exec(dctl, command):
    """Defect 7: `signal NAME KILL` takes no lock and may hit the grandchild waiting to exec."""
    if command == "restart":
        dctl.start("k", SLEEP, "300")
        args = ["restart", "-t", "5", "k"]
    else:
        args = ["start", "-n", "k", SLEEP, "300"]
    proc = dctl.popen(*args, env=pausing(dctl, "start:pidfile"), stdout=subprocess.PIPE,
                      stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: stopped(proc.pid) or proc.poll() is not None), "start never paused"
    grandchild = dctl.record("k")["pid"]
    assert alive(grandchild)
    assert_ok(dctl("signal", "k", "KILL"))
    assert wait_gone(grandchild)
    os.kill(proc.pid, signal.SIGCONT)
    out, err = proc.communicate(timeout=30)
    cp = subprocess.CompletedProcess(args, proc.returncode, out, err)
    assert_one_error(cp, 1)
    assert "killed" in err
    assert dctl.token_pids() == [], "a killed start left a process"
    assert not dctl.pidfile("k").exists()
    assert dctl("status", "k").returncode == 3


def test_start_respawn_killed_after_the_supervisors_exec(dctl):
    """Defect 6: the supervisor's report pipe has no reader any more: it supervises on."""
    cp = dctl("start", "-n", "r", "--respawn", SLEEP, "300", env=dict(dctl.env, **{CRASH_VAR: "start:supervisor"}))
    assert cp.returncode == -signal.SIGKILL, cp
    sup = dctl.track(dctl.record("r")["supervisor_pid"])
    assert wait_for(lambda: isinstance(dctl.record("r").get("pid"), int))
    program = dctl.track(dctl.record("r")["pid"])
    # Long enough for a supervisor that crashed on its report to be gone.
    assert wait_for(lambda: not alive(sup), timeout=2) is False, log_lines(dctl.logfile("r"))
    assert "Traceback" not in dctl.logfile("r").read_text()
    st = dctl("status", "r")
    assert st.returncode == 0 and f"pid {program}" in st.stdout, st
    os.kill(program, signal.SIGKILL)  # and it still restarts the program
    assert wait_for(lambda: dctl.record("r").get("pid") not in (program, None), timeout=15)
    assert_ok(dctl("stop", "r"))
    assert dctl.token_pids() == []


def test_stop_racing_a_killed_start_respawn_leaves_nothing(dctl):
    """Defect 6: the supervisor had started its program when stop killed it."""
    proc = dctl.popen("start", "-n", "r", "--respawn", SLEEP, "300", env=pausing(dctl, "supervisor:spawned"),
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_for(lambda: "supervisor_pid" in dctl.recordfile("r").read_text()
                    if dctl.recordfile("r").exists() else False)
    sup = dctl.track(dctl.record("r")["supervisor_pid"])
    assert wait_for(lambda: stopped(sup)), "the supervisor never paused"
    proc.kill()
    proc.wait()
    assert wait_for(lambda: [p for p in dctl.token_pids() if p != sup])  # its program is there
    assert_ok(dctl("stop", "-t", "5", "r"))
    assert dctl.token_pids() == [], "stop left the program of a killed start running"
    assert dctl("status", "r").returncode == 3


def test_respawn_with_a_one_mebibyte_environment(dctl):
    """Defect 9: the supervisor's configuration no longer travels in one environment variable."""
    env = dict(dctl.env)
    chunk = "x" * (64 * 1024 - 16)
    for i in range(16):
        env[f"BIG_{i}"] = chunk
    cp = dctl("start", "-n", "big", "--respawn", SLEEP, "300", env=env)
    assert_ok(cp)
    dctl.track(dctl.record("big")["supervisor_pid"])
    program = dctl.track(dctl.record("big")["pid"])
    got = environ(program)
    assert all(got.get(f"BIG_{i}") == chunk for i in range(16))
    assert_ok(dctl("stop", "big"))


def test_supervisor_survives_a_state_dir_out_of_inodes(dctl, mountpoint, tmp_path):  # noqa: F811
    """Defect 9: its record write fails at a program exit; it says so once and supervises on."""
    if not mount("-t", "tmpfs", "-o", "size=8m,nr_inodes=64,mode=0755", "tmpfs", str(mountpoint)):
        pytest.skip("cannot mount a tmpfs here")
    d = dctl.with_state_dir(mountpoint / "state")
    fifo = tmp_path / "exit-now"
    os.mkfifo(fifo)
    prog = f'echo run; read line < "{fifo}"; exit 1'
    cp = d("start", "-n", "s", "--respawn", "--restart-delay", "0.05", SH, "-c", prog)
    assert_ok(cp)
    sup = d.track(d.record("s")["supervisor_pid"])
    assert wait_for(lambda: log_lines(d.logfile("s")).count("run") == 1)
    filler = mountpoint / "fill"
    filler.mkdir()
    try:
        for i in range(10_000):
            (filler / str(i)).touch()
    except OSError:
        pass
    for runs in (2, 3):  # two program exits with the state directory full
        with open(fifo, "w") as f:
            f.write("bye\n")
        assert wait_for(lambda runs=runs: log_lines(d.logfile("s")).count("run") == runs), log_lines(d.logfile("s"))
    assert alive(sup), f"the supervisor died: {log_lines(d.logfile('s'))}"
    said = [ln for ln in log_lines(d.logfile("s")) if ln.startswith("daemonctl:")]
    assert len(said) == 1 and "record" in said[0] and "No space left" in said[0], said
    assert "Traceback" not in d.logfile("s").read_text()
    for f in filler.iterdir():
        f.unlink()
    assert_ok(d("stop", "s"))
    assert d.token_pids() == []


def test_stop_of_more_processes_than_open_files(dctl):
    """Defect 6: 1,100 children under `ulimit -n 1024`: stop holds no descriptor per process."""
    n = 1100
    prog = f'i=0; while [ $i -lt {n} ]; do sleep 300 & i=$((i+1)); done; echo ready; wait'
    leader = dctl.start("many", SH, "-c", prog)
    assert wait_for(lambda: "ready" in log_lines(dctl.logfile("many")), timeout=60)
    assert wait_for(lambda: len(group_members(leader)) == n + 1, timeout=60)

    def limit_files():
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))

    cp = subprocess.run(dctl.argv("stop", "-t", "10", "many"), capture_output=True, text=True, timeout=120,
                        env=dctl.env, preexec_fn=limit_files, stdin=subprocess.DEVNULL)
    assert_ok(cp)
    assert group_members(leader) == []
    assert dctl("status", "many").returncode == 3


def fill_inodes(directory: Path) -> None:
    directory.mkdir()
    try:
        for i in range(100_000):
            (directory / str(i)).touch()
    except OSError:
        pass


def test_start_respawn_that_cannot_record_its_program_leaves_nothing(dctl, mountpoint):  # noqa: F811
    """The state directory runs out of inodes once the supervisor runs: start fails, and stops it."""
    if not mount("-t", "tmpfs", "-o", "size=8m,nr_inodes=64,mode=0755", "tmpfs", str(mountpoint)):
        pytest.skip("cannot mount a tmpfs here")
    d = dctl.with_state_dir(mountpoint / "state")
    proc = d.popen("start", "-n", "f", "--respawn", SLEEP, "300", env=pausing(d, "start:supervisor"),
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: stopped(proc.pid) or proc.poll() is not None), "start never paused"
    fill_inodes(mountpoint / "fill")
    os.kill(proc.pid, signal.SIGCONT)
    out, err = proc.communicate(timeout=60)
    assert_one_error(subprocess.CompletedProcess(proc.args, proc.returncode, out, err), 1)
    assert "No space left" in err
    assert wait_for(lambda: d.token_pids() == []), "a start that failed left its supervisor or program"
    assert not d.pidfile("f").exists()


def test_supervisor_killed_right_after_a_restart_leaves_nothing_unnamed(dctl):
    """A restart is recorded before its exec: a supervisor killed just after leaves it named."""
    env = pausing(dctl, "supervisor:restarted")
    cp = dctl("start", "-n", "r", "--respawn", "--restart-delay", "0.05", SLEEP, "300", env=env)
    assert_ok(cp)
    sup = dctl.track(dctl.record("r")["supervisor_pid"])
    first = dctl.record("r")["pid"]
    os.kill(first, signal.SIGKILL)
    assert wait_for(lambda: stopped(sup)), "the supervisor never restarted the program"
    os.kill(sup, signal.SIGKILL)
    assert wait_gone(sup)
    second = dctl.record("r")["pid"]
    assert second != first and alive(second), "the restarted program is not in the record"
    assert_ok(dctl("stop", "-t", "5", "r"))
    assert wait_for(lambda: dctl.token_pids() == []), "stop left the restarted program running"
