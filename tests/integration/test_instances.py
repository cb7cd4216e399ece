"""CONTRACT "Instances (`--instances N`)": NAME@i daemons with their own record, pidfile and log,
%i and the environment, the set NAME with every command, scaling, the rolling restart, and one
supervisor for a --respawn set."""
import json
import os
import random
import shutil
import signal
import socket
import threading
from contextlib import ExitStack
from pathlib import Path

import pytest

from .helpers import (
    PY,
    SH,
    SIGNAL_LOGGER,
    SLEEP,
    alive,
    all_pids,
    assert_ok,
    assert_one_error,
    cgroups_of,
    cgroups_usable,
    cmdline,
    environ,
    live_pids_where,
    log_lines,
    proc_stat,
    wait_for,
    wait_gone,
)

pytestmark = pytest.mark.integration

FAST = ["--restart-delay", "0.1", "--restart-delay-max", "0.4"]
# Listens on the port given as argv[1] (SO_REUSEPORT: the test holds the port meanwhile), then sleeps.
LISTEN = ("import socket, sys, time\n"
          "s = socket.socket()\n"
          "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)\n"
          "s.bind(('127.0.0.1', int(sys.argv[1])))\n"
          "s.listen(64)\n"
          "time.sleep(300)\n")


@pytest.fixture
def port_prefix():
    """A number P such that ports P1 .. P9 are held for the test (as conftest's reserved_port)."""
    with ExitStack() as stack:
        for _ in range(200):
            prefix = random.randrange(2000, 6500)
            held = []
            try:
                for i in range(1, 10):
                    s = stack.enter_context(socket.socket())
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                    s.bind(("127.0.0.1", int(f"{prefix}{i}")))
                    held.append(s)
            except OSError:
                for s in held:
                    s.close()
                continue
            yield prefix
            return
        pytest.fail("no free run of ports found")


def pids(dctl, name, count):
    return [dctl.pid(f"{name}@{i}") for i in range(1, count + 1)]


def status(dctl, name):
    cp = dctl("status", "--json", name)
    return json.loads(cp.stdout) if cp.stdout.strip() else None, cp.returncode


def accepting(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_each_instance_is_a_daemon_of_its_own_with_its_number(dctl, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for i in (1, 2, 3):
        (tmp_path / f"dir{i}").mkdir()
    cp = dctl("start", "-n", "web", "--instances", "3", "--env", "PORT=80%i", "--env", "PCT=100%%",
              "-d", str(tmp_path / "dir%i"), "-e", str(out / "err%i.log"),
              SH, "-c", 'echo "$1 $DAEMONCTL_INSTANCE/$DAEMONCTL_INSTANCES $PORT $PCT $(pwd)"; exec sleep 300',
              "sh", "arg%i")
    assert_ok(cp)
    for i in (1, 2, 3):
        name = f"web@{i}"
        pid = dctl.track(dctl.pid(name))
        st = proc_stat(pid)
        assert st["pgrp"] == pid and st["session"] != os.getsid(0)  # a daemon of its own
        rec = dctl.record(name)
        assert rec["name"] == name and rec["pid"] == pid and rec["instance"] == i and rec["instances"] == 3
        assert rec["pidfile"] == str(dctl.pidfile(name)) and rec["stdout"] == str(dctl.logfile(name))
        assert rec["stderr"] == str(out / f"err{i}.log")
        env = environ(pid)
        assert env["DAEMONCTL_INSTANCE"] == str(i) and env["DAEMONCTL_INSTANCES"] == "3"
        assert env["PORT"] == f"80{i}" and env["PCT"] == "100%"
        assert wait_for(lambda name=name: log_lines(dctl.logfile(name)))
        assert log_lines(dctl.logfile(name)) == [f"arg{i} {i}/3 80{i} 100% {tmp_path}/dir{i}"]
        assert os.readlink(f"/proc/{pid}/cwd") == str(tmp_path / f"dir{i}")
    assert not dctl.recordfile("web").exists() and not dctl.pidfile("web").exists()


@pytest.mark.parametrize("bad", [["--instances", "0"], ["--instances", "1025"], ["--instances", "two"],
                                 ["--instances", "-3"], ["--instances", "3", "-n", "web@1"],
                                 ["--instances", "3", "-n", "a@b"], ["--instances", "2", "--respawn", "--forking"]])
def test_bad_count_or_set_name_exits_2_and_starts_nothing(dctl, bad):
    opts = bad if "-n" in bad else [*bad, "-n", "web"]
    cp = dctl("start", *opts, SLEEP, "300")
    assert_one_error(cp, 2, only_line=True)
    state = dctl.state_dir
    assert not state.exists() or not [p for p in state.iterdir() if p.suffix in (".json", ".pid")]
    assert dctl.token_pids() == []


def test_a_port_bad_for_one_instance_starts_none(dctl):
    cp = dctl("start", "-n", "web", "--instances", "7", "--ready-port", "6553%i", SLEEP, "300")
    assert_one_error(cp, 2, only_line=True)
    assert "web@6" in cp.stderr and dctl.token_pids() == []


def test_ready_port_with_i_gives_each_its_own_port(dctl, port_prefix):
    cp = dctl("start", "-n", "web", "--instances", "3", "--ready-port", f"{port_prefix}%i",
              PY, "-c", LISTEN, f"{port_prefix}%i")
    assert_ok(cp)
    for i in (1, 2, 3):
        dctl.track(dctl.pid(f"web@{i}"))
        assert dctl.record(f"web@{i}")["ready_port"] == f"{port_prefix}{i}"
        assert accepting(int(f"{port_prefix}{i}"))
    assert not accepting(int(f"{port_prefix}4"))


def test_status_of_a_set_lists_each_and_exits_by_the_worst(dctl):
    assert_ok(dctl("start", "-n", "web", "--instances", "3", SLEEP, "300"))
    first = [dctl.track(p) for p in pids(dctl, "web", 3)]
    objs, code = status(dctl, "web")
    assert code == 0 and [o["name"] for o in objs] == ["web@1", "web@2", "web@3"]
    assert [o["pid"] for o in objs] == first and {o["state"] for o in objs} == {"running"}
    text = dctl("status", "web")
    assert text.returncode == 0 and [ln.split()[0] for ln in text.stdout.splitlines()[1:]] == ["web@1", "web@2", "web@3"]
    os.kill(first[1], signal.SIGKILL)
    assert wait_gone(first[1])
    objs, code = status(dctl, "web")
    assert code == 1 and [o["state"] for o in objs] == ["running", "dead", "running"]
    one, code = status(dctl, "web@1")
    assert code == 0 and one["name"] == "web@1"  # NAME@i is one daemon
    assert_ok(dctl("stop", "web"))
    objs, code = status(dctl, "web")
    assert code == 3 and {o["state"] for o in objs} == {"stopped"}


def test_stop_of_a_set_stops_all_at_once(dctl, tmp_path):
    go = tmp_path / "go"
    # On TERM: say so, then end only once the test says go. One stop after another would
    # wait for the first forever and never send the second TERM.
    program = [SH, "-c", f'trap \'echo term; while [ ! -e {go} ]; do sleep 0.02; done; exit 0\' TERM; '
               'echo up; while :; do sleep 0.05; done']
    assert_ok(dctl("start", "-n", "web", "--instances", "3", *program))
    running = [dctl.track(p) for p in pids(dctl, "web", 3)]
    assert wait_for(lambda: all("up" in log_lines(dctl.logfile(f"web@{i}")) for i in (1, 2, 3)))
    stopper = dctl.popen("stop", "web", stdout=-1, stderr=-1, text=True)
    assert wait_for(lambda: all("term" in log_lines(dctl.logfile(f"web@{i}")) for i in (1, 2, 3)), timeout=15)
    assert all(alive(p) for p in running)  # all three told before any ended
    go.touch()
    out, err = stopper.communicate(timeout=30)
    assert stopper.returncode == 0, err
    assert all(wait_gone(p) for p in running)
    assert [dctl.record(f"web@{i}")["state"] for i in (1, 2, 3)] == ["stopped"] * 3
    assert not any(dctl.pidfile(f"web@{i}").exists() for i in (1, 2, 3))


def test_stop_one_instance_leaves_the_others(dctl):
    assert_ok(dctl("start", "-n", "web", "--instances", "3", SLEEP, "300"))
    first = [dctl.track(p) for p in pids(dctl, "web", 3)]
    assert_ok(dctl("stop", "web@2"))
    assert wait_gone(first[1]) and alive(first[0]) and alive(first[2])


def test_signal_goes_to_every_instance(dctl):
    assert_ok(dctl("start", "-n", "web", "--instances", "2", PY, "-c", SIGNAL_LOGGER, "HUP"))
    for i in (1, 2):
        dctl.track(dctl.pid(f"web@{i}"))
        assert wait_for(lambda i=i: "ready" in log_lines(dctl.logfile(f"web@{i}")))
    cp = dctl("signal", "web", "HUP")
    assert_ok(cp)
    for i in (1, 2):
        assert wait_for(lambda i=i: "HUP" in log_lines(dctl.logfile(f"web@{i}")))
        assert f"web@{i}" in cp.stderr


def test_remove_of_a_set_is_all_or_nothing(dctl):
    assert_ok(dctl("start", "-n", "web", "--instances", "2", SLEEP, "300"))
    [dctl.track(p) for p in pids(dctl, "web", 2)]
    assert_ok(dctl("stop", "web@1"))
    assert_one_error(dctl("remove", "web"), 1)
    assert dctl.recordfile("web@1").exists() and dctl.recordfile("web@2").exists()
    assert_ok(dctl("stop", "web"))
    assert_ok(dctl("remove", "web"))
    assert not dctl.recordfile("web@1").exists() and not dctl.recordfile("web@2").exists()
    assert dctl.logfile("web@1").exists()  # logs are kept
    assert dctl("status", "web").returncode == 3


def test_logs_of_a_set_prefix_each_line_and_follow_all(dctl):
    assert_ok(dctl("start", "-n", "web", "--instances", "2", PY, "-c", SIGNAL_LOGGER, "HUP"))
    for i in (1, 2):
        dctl.track(dctl.pid(f"web@{i}"))
        assert wait_for(lambda i=i: "ready" in log_lines(dctl.logfile(f"web@{i}")))
    cp = dctl("logs", "web")
    assert_ok(cp)
    assert cp.stdout.splitlines() == ["web@1 | ready", "web@2 | ready"]
    follower = dctl.popen("logs", "-f", "-n", "1", "web", stdout=-1, stderr=-1)
    lines: list[bytes] = []

    def read():
        for line in iter(follower.stdout.readline, b""):
            lines.append(line)

    threading.Thread(target=read, daemon=True).start()
    assert wait_for(lambda: b"web@2 | ready\n" in lines)  # following now
    assert_ok(dctl("signal", "web@2", "HUP"))
    assert wait_for(lambda: b"web@2 | HUP\n" in lines)
    assert_ok(dctl("signal", "web@1", "HUP"))
    assert wait_for(lambda: b"web@1 | HUP\n" in lines)
    follower.send_signal(signal.SIGINT)
    follower.wait(timeout=10)
    assert lines.count(b"web@2 | HUP\n") == 1 and lines.count(b"web@1 | ready\n") == 1


def test_scaling_up_and_down_keeps_the_running_instances(dctl):
    assert_ok(dctl("start", "-n", "web", "--instances", "2", SH, "-c", "exec sleep 300", "x%i"))
    first = [dctl.track(p) for p in pids(dctl, "web", 2)]
    assert_ok(dctl("start", "-n", "web", "--instances", "4"))  # no PROGRAM: from the set's records
    grown = [dctl.track(p) for p in pids(dctl, "web", 4)]
    assert grown[:2] == first and all(alive(p) for p in grown)
    assert dctl.record("web@4")["command"] == [SH, "-c", "exec sleep 300", "x4"]
    assert environ(grown[3])["DAEMONCTL_INSTANCES"] == "4"
    assert_ok(dctl("start", "-n", "web", "--instances", "1"))
    assert all(wait_gone(p) for p in grown[1:])
    assert alive(grown[0]) and dctl.pid("web@1") == first[0]
    assert not any(dctl.recordfile(f"web@{i}").exists() for i in (2, 3, 4))
    objs, code = status(dctl, "web")
    assert code == 0 and [o["name"] for o in objs] == ["web@1"]


def test_a_roll_keeps_n_minus_1_serving(dctl, port_prefix):
    n = 3
    ports = [int(f"{port_prefix}{i}") for i in range(1, n + 1)]
    assert_ok(dctl("start", "-n", "web", "--instances", str(n), "--ready-port", f"{port_prefix}%i",
                   PY, "-c", LISTEN, f"{port_prefix}%i"))
    before = [dctl.track(p) for p in pids(dctl, "web", n)]
    lowest, done = [n], threading.Event()

    def probe():
        while not done.is_set():
            lowest[0] = min(lowest[0], sum(accepting(p) for p in ports))
            done.wait(0.02)

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        cp = dctl("restart", "web", timeout=60)
    finally:
        done.set()
        prober.join()
    assert_ok(cp)
    after = [dctl.track(p) for p in pids(dctl, "web", n)]
    assert all(a != b for a, b in zip(after, before, strict=True)) and all(wait_gone(p) for p in before)
    assert lowest[0] >= n - 1
    assert all(accepting(p) for p in ports)


def test_a_roll_that_fails_stops_there_and_leaves_the_rest(dctl, port_prefix):
    assert_ok(dctl("start", "-n", "web", "--instances", "3", "--ready-port", f"{port_prefix}%i",
                   "--ready-timeout", "5", PY, "-c", LISTEN, f"{port_prefix}%i"))
    before = [dctl.track(p) for p in pids(dctl, "web", 3)]
    # The new command cannot come up as instance 2.
    failing = ("import sys\nif sys.argv[2] == '2':\n    print('broken', flush=True); sys.exit(3)\n" + LISTEN)
    cp = dctl("restart", "web", "--", PY, "-c", failing, f"{port_prefix}%i", "%i", timeout=60)
    assert_one_error(cp, 1)
    assert "web@2" in cp.stderr
    new1 = dctl.track(dctl.pid("web@1"))
    assert new1 != before[0] and alive(new1)
    assert not alive(before[1]) and dctl("status", "web@2").returncode != 0
    assert alive(before[2]) and dctl.pid("web@3") == before[2]  # never stopped
    objs, code = status(dctl, "web")
    assert code == 3 and [o["state"] for o in objs] == ["running", "stopped", "running"]


def supervisors(dctl, name, count):
    return {dctl.record(f"{name}@{i}")["supervisor_pid"] for i in range(1, count + 1)}


def program_pid(dctl, name):
    return dctl.record(name)["pid"]


def test_one_supervisor_for_a_respawned_set_restarts_each_under_its_number(dctl):
    assert_ok(dctl("start", "-n", "w", "--instances", "4", "--respawn", *FAST, SLEEP, "300"))
    sups = supervisors(dctl, "w", 4)
    assert len(sups) == 1
    sup = dctl.track(sups.pop())
    progs = [dctl.track(program_pid(dctl, f"w@{i}")) for i in range(1, 5)]
    assert all(proc_stat(p)["ppid"] == sup for p in progs)
    assert [dctl.pid(f"w@{i}") for i in range(1, 5)] == [sup] * 4  # each pidfile names it
    assert "daemonctl.supervise.pool_resident" in cmdline(sup)
    os.kill(progs[2], signal.SIGKILL)
    assert wait_for(lambda: program_pid(dctl, "w@3") != progs[2] and dctl.record("w@3")["state"] == "running")
    new = dctl.track(program_pid(dctl, "w@3"))
    assert proc_stat(new)["ppid"] == sup
    # Recorded before its exec: its environment is the program's once it has exec'd.
    assert wait_for(lambda: environ(new).get("DAEMONCTL_INSTANCE") == "3")
    objs, code = status(dctl, "w")
    assert code == 0
    assert [o["restarts"] for o in objs] == [0, 0, 1, 0]
    assert objs[2]["last_exit"]["signal"] == signal.SIGKILL
    assert [o["pid"] for o in objs] == [progs[0], progs[1], new, progs[3]]
    assert {o["supervisor_pid"] for o in objs} == {sup}
    assert_ok(dctl("stop", "w"))
    assert wait_gone(sup) and all(wait_gone(p) for p in [progs[0], progs[1], new, progs[3]])
    assert not any(dctl.pidfile(f"w@{i}").exists() for i in range(1, 5))


def test_stop_one_instance_of_a_respawned_set_is_not_restarted(dctl):
    assert_ok(dctl("start", "-n", "w", "--instances", "3", "--respawn", *FAST, SLEEP, "300"))
    sup = dctl.track(supervisors(dctl, "w", 3).pop())
    progs = [dctl.track(program_pid(dctl, f"w@{i}")) for i in range(1, 4)]
    assert_ok(dctl("stop", "w@2"))
    assert wait_gone(progs[1]) and alive(sup)
    # Once the supervisor has restarted another instance killed after the stop, it has
    # certainly dealt with instance 2 too: it must not have come back.
    os.kill(progs[0], signal.SIGKILL)
    assert wait_for(lambda: program_pid(dctl, "w@1") != progs[0] and dctl.record("w@1")["state"] == "running")
    dctl.track(program_pid(dctl, "w@1"))
    rec = dctl.record("w@2")
    assert rec["state"] == "stopped" and not dctl.pidfile("w@2").exists()
    assert not live_pids_where(lambda p: environ(p).get("DAEMONCTL_INSTANCE") == "2"
                               and environ(p).get("DAEMONCTL_ITEST_TOKEN") == dctl.token)
    assert alive(progs[2])
    # Started again, it runs under the same supervisor.
    assert_ok(dctl("start", "-n", "w@2"))
    assert dctl.record("w@2")["supervisor_pid"] == sup
    dctl.track(program_pid(dctl, "w@2"))


def test_scaling_a_respawned_set_keeps_its_one_supervisor(dctl):
    assert_ok(dctl("start", "-n", "w", "--instances", "2", "--respawn", *FAST, SLEEP, "300"))
    sup = dctl.track(supervisors(dctl, "w", 2).pop())
    first = [dctl.track(program_pid(dctl, f"w@{i}")) for i in (1, 2)]
    assert_ok(dctl("start", "-n", "w", "--instances", "4"))
    assert supervisors(dctl, "w", 4) == {sup}
    grown = [dctl.track(program_pid(dctl, f"w@{i}")) for i in range(1, 5)]
    assert grown[:2] == first and all(proc_stat(p)["ppid"] == sup for p in grown)
    assert_ok(dctl("start", "-n", "w", "--instances", "1"))
    assert all(wait_gone(p) for p in grown[1:]) and alive(grown[0]) and alive(sup)
    # What was let go is not restarted: kill the one left and see only it come back.
    os.kill(grown[0], signal.SIGKILL)
    assert wait_for(lambda: program_pid(dctl, "w@1") != grown[0] and dctl.record("w@1")["state"] == "running")
    dctl.track(program_pid(dctl, "w@1"))
    assert [p.name for p in Path(dctl.state_dir).glob("w@*.json")] == ["w@1.json"]
    assert_ok(dctl("stop", "w"))
    assert wait_gone(sup)


def test_a_roll_of_a_respawned_set(dctl):
    assert_ok(dctl("start", "-n", "w", "--instances", "2", "--respawn", *FAST, SLEEP, "300"))
    sup = dctl.track(supervisors(dctl, "w", 2).pop())
    first = [dctl.track(program_pid(dctl, f"w@{i}")) for i in (1, 2)]
    assert_ok(dctl("restart", "w"))
    after = [dctl.track(program_pid(dctl, f"w@{i}")) for i in (1, 2)]
    assert all(wait_gone(p) for p in first) and all(alive(p) for p in after)
    assert supervisors(dctl, "w", 2) == {sup} and all(proc_stat(p)["ppid"] == sup for p in after)
    assert [dctl.record(f"w@{i}")["restarts"] for i in (1, 2)] == [0, 0]


def test_export_of_a_set(dctl):
    assert_ok(dctl("start", "-n", "web", "--instances", "2", "--respawn", SLEEP, "30%i"))
    [dctl.track(dctl.record(f"web@{i}")["supervisor_pid"]) for i in (1, 2)]
    unit = dctl("export", "systemd", "web")
    assert_ok(unit)
    assert f"ExecStart={SLEEP} 30%i" in unit.stdout and "web@.service" in unit.stdout
    assert 'Environment="DAEMONCTL_INSTANCE=%i"' in unit.stdout
    section = dctl("export", "supervisor", "web")
    assert_ok(section)
    assert "numprocs=2" in section.stdout.splitlines() and "[program:web]" in section.stdout.splitlines()
    one = dctl("export", "systemd", "web@2")
    assert_ok(one)
    assert f"ExecStart={SLEEP} 302" in one.stdout


def test_start_of_a_set_by_its_name_and_another_command_refused(dctl):
    assert_ok(dctl("start", "-n", "web", "--instances", "2", SLEEP, "300"))
    [dctl.track(p) for p in pids(dctl, "web", 2)]
    assert_ok(dctl("stop", "web"))
    assert_ok(dctl("start", "-n", "web"))  # the whole set again, from its records
    again = [dctl.track(p) for p in pids(dctl, "web", 2)]
    assert all(alive(p) for p in again)
    cp = dctl("start", "-n", "web", "--instances", "2", SLEEP, "301")
    assert_one_error(cp, 1)
    assert "restart web" in cp.stderr and [dctl.pid(f"web@{i}") for i in (1, 2)] == again


def test_the_same_command_with_i_again_is_already_running(dctl):
    assert_ok(dctl("start", "-n", "web", "--instances", "2", SLEEP, "30%i"))
    first = [dctl.track(p) for p in pids(dctl, "web", 2)]
    cp = dctl("start", "-n", "web", "--instances", "2", SLEEP, "30%i")
    assert_ok(cp)
    assert "web@2 is already running" in cp.stderr and pids(dctl, "web", 2) == first


def test_a_killed_set_supervisor_leaves_dead_instances_that_stop_and_start_take_over(dctl):
    assert_ok(dctl("start", "-n", "w", "--instances", "2", "--respawn", *FAST, SLEEP, "300"))
    sup = dctl.track(supervisors(dctl, "w", 2).pop())
    progs = [dctl.track(program_pid(dctl, f"w@{i}")) for i in (1, 2)]
    os.kill(sup, signal.SIGKILL)
    assert wait_gone(sup)
    objs, code = status(dctl, "w")
    assert code == 1 and [o["state"] for o in objs] == ["dead", "dead"]
    assert [o["pid"] for o in objs] == progs  # the programs still run, and are named
    assert_ok(dctl("start", "-n", "w"))  # stops what is left, then one new supervisor for both
    assert all(wait_gone(p) for p in progs)
    new_sups = supervisors(dctl, "w", 2)
    assert len(new_sups) == 1 and sup not in new_sups
    dctl.track(new_sups.pop())
    [dctl.track(program_pid(dctl, f"w@{i}")) for i in (1, 2)]
    assert status(dctl, "w")[1] == 0


def test_the_supervisor_of_a_stopped_set_ends_though_its_state_directory_is_removed_at_once(dctl):
    # As a benchmark or a test's teardown does: stop the set, rm -r its state directory right
    # after, before the supervisor has taken each instance's lock to let it go.
    assert_ok(dctl("start", "-n", "w", "--instances", "16", "--respawn", *FAST, SLEEP, "300"))
    sup = dctl.track(supervisors(dctl, "w", 16).pop())
    progs = [dctl.track(program_pid(dctl, f"w@{i}")) for i in range(1, 17)]
    assert_ok(dctl("stop", "w"))
    shutil.rmtree(dctl.state_dir)
    assert wait_gone(sup), "the set's supervisor outlived the set"
    assert not any(alive(p) for p in progs)


def test_a_set_supervisor_whose_state_directory_is_gone_restarts_nothing_and_ends(dctl):
    # No record names it any more: as the single supervisor does, it lets each program go as it ends.
    assert_ok(dctl("start", "-n", "w", "--instances", "3", "--respawn", *FAST, SLEEP, "300"))
    sup = dctl.track(supervisors(dctl, "w", 3).pop())
    progs = [dctl.track(program_pid(dctl, f"w@{i}")) for i in (1, 2, 3)]
    shutil.rmtree(dctl.state_dir)
    for pid in progs:
        os.kill(pid, signal.SIGKILL)
    assert wait_gone(sup), "the set's supervisor outlived every instance"
    assert not live_pids_where(lambda p: "DAEMONCTL_INSTANCE" in environ(p)
                               and environ(p).get("DAEMONCTL_ITEST_TOKEN") == dctl.token)


def test_term_to_a_set_supervisor_whose_state_directory_is_gone_stops_it(dctl):
    assert_ok(dctl("start", "-n", "w", "--instances", "3", "--respawn", *FAST, SLEEP, "300"))
    sup = dctl.track(supervisors(dctl, "w", 3).pop())
    progs = [dctl.track(program_pid(dctl, f"w@{i}")) for i in (1, 2, 3)]
    shutil.rmtree(dctl.state_dir)
    os.kill(sup, signal.SIGTERM)  # an init script's stop, or kill
    assert wait_gone(sup), "SIGTERM did not end the set's supervisor"
    assert all(wait_gone(p) for p in progs)


def test_the_set_supervisor_ends_once_its_last_instance_is_stopped(dctl):
    assert_ok(dctl("start", "-n", "w", "--instances", "3", "--respawn", *FAST, SLEEP, "300"))
    sup = dctl.track(supervisors(dctl, "w", 3).pop())
    progs = [dctl.track(program_pid(dctl, f"w@{i}")) for i in (1, 2, 3)]
    for i in (1, 2):
        assert_ok(dctl("stop", f"w@{i}"))
    assert wait_gone(progs[0]) and wait_gone(progs[1])
    assert alive(sup) and alive(progs[2])  # it still supervises w@3
    assert_ok(dctl("stop", "w@3"))
    assert wait_gone(sup), "the set's supervisor outlived its last instance"
    assert status(dctl, "w")[1] == 3


def test_term_to_the_set_supervisor_stops_every_instance_and_ends_it(dctl):
    assert_ok(dctl("start", "-n", "w", "--instances", "3", "--respawn", *FAST, SLEEP, "300"))
    sup = dctl.track(supervisors(dctl, "w", 3).pop())
    progs = [dctl.track(program_pid(dctl, f"w@{i}")) for i in (1, 2, 3)]
    os.kill(sup, signal.SIGTERM)
    assert wait_gone(sup), "SIGTERM did not end the set's supervisor"
    assert all(wait_gone(p) for p in progs)  # restarted none of them
    objs, code = status(dctl, "w")
    assert code == 3 and [o["state"] for o in objs] == ["stopped"] * 3
    assert not any(dctl.pidfile(f"w@{i}").exists() for i in (1, 2, 3))


def test_instances_dying_together_are_each_restarted(dctl):
    assert_ok(dctl("start", "-n", "w", "--instances", "3", "--respawn", *FAST, SLEEP, "300"))
    sup = dctl.track(supervisors(dctl, "w", 3).pop())
    progs = [dctl.track(program_pid(dctl, f"w@{i}")) for i in (1, 2, 3)]
    for pid in progs:
        os.kill(pid, signal.SIGKILL)  # all three end before the supervisor reaps any
    for i in (1, 2, 3):
        assert wait_for(lambda i=i: program_pid(dctl, f"w@{i}") != progs[i - 1]
                        and dctl.record(f"w@{i}")["state"] == "running"), f"w@{i} was not restarted"
        dctl.track(program_pid(dctl, f"w@{i}"))
    assert [dctl.record(f"w@{i}")["restarts"] for i in (1, 2, 3)] == [1, 1, 1]
    assert supervisors(dctl, "w", 3) == {sup}


def test_stop_of_an_instance_waiting_out_its_restart_delay_is_not_restarted(dctl):
    assert_ok(dctl("start", "-n", "w", "--instances", "2", "--respawn", "--restart-delay", "1", SLEEP, "300"))
    sup = dctl.track(supervisors(dctl, "w", 2).pop())
    progs = [dctl.track(program_pid(dctl, f"w@{i}")) for i in (1, 2)]
    os.kill(progs[1], signal.SIGKILL)
    assert wait_for(lambda: dctl.record("w@2")["state"] == "restarting")
    assert_ok(dctl("stop", "w@2"))
    assert dctl.record("w@2")["state"] == "stopped"
    # w@1 killed now comes back a delay later, after w@2's delay has run out: by then the
    # supervisor has dealt with w@2, which must not have come back.
    os.kill(progs[0], signal.SIGKILL)
    assert wait_for(lambda: program_pid(dctl, "w@1") != progs[0] and dctl.record("w@1")["state"] == "running")
    dctl.track(program_pid(dctl, "w@1"))
    assert dctl.record("w@2")["state"] == "stopped" and dctl("status", "w@2").returncode == 3
    assert not live_pids_where(lambda p: environ(p).get("DAEMONCTL_INSTANCE") == "2"
                               and environ(p).get("DAEMONCTL_ITEST_TOKEN") == dctl.token)
    assert alive(sup)


def test_a_set_of_programs_that_daemonize_themselves(dctl):
    # Each instance's start is the subreaper of its program: the earlier instances' daemons are
    # then this daemonctl's children, and must not be taken for what a later one left behind.
    cp = dctl("start", "-n", "fk", "--instances", "3", "--forking", SH, "-c", f"setsid {SLEEP} 30%i & exit 0")
    assert_ok(cp)
    daemons = [dctl.track(p) for p in pids(dctl, "fk", 3)]
    assert len(set(daemons)) == 3 and all(alive(p) for p in daemons)
    assert [cmdline(p)[-1] for p in daemons] == ["301", "302", "303"]
    assert_ok(dctl("stop", "fk"))
    assert all(wait_gone(p) for p in daemons)


def v2_cgroup_of(pid):
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        if line.startswith("0::"):
            return line[3:]
    return None


def test_each_instance_of_a_respawned_set_in_its_own_cgroup(dctl):
    if not cgroups_usable():
        pytest.skip("needs root and a cgroup v2 hierarchy")
    marker = str(random.randrange(40000, 49999))
    # Each program leaves a child out of its process group; a limit is accepted, not refused.
    assert_ok(dctl("start", "-n", "w", "--instances", "2", "--respawn", *FAST, "--memory-max", "256M",
                   SH, "-c", f"setsid {SLEEP} {marker} & exec {SLEEP} 300"))
    sup = dctl.track(supervisors(dctl, "w", 2).pop())
    progs = [dctl.track(program_pid(dctl, f"w@{i}")) for i in (1, 2)]
    recs = [dctl.record(f"w@{i}") for i in (1, 2)]
    assert all(r["cgroup"] for r in recs) and recs[0]["cgroup"] != recs[1]["cgroup"]
    for rec, pid in zip(recs, progs, strict=True):
        assert v2_cgroup_of(pid).endswith(f"{rec['name']}/program")
    assert f"{recs[0]['name']}" not in (v2_cgroup_of(sup) or "") and "w@2" not in (v2_cgroup_of(sup) or "")
    objs, code = status(dctl, "w")
    assert code == 0 and [o["tasks"] for o in objs] == [2, 2]

    def escaped():
        return live_pids_where(lambda p: cmdline(p) == [SLEEP, marker])

    assert wait_for(lambda: len(escaped()) == 2)
    assert_ok(dctl("stop", "w@1"))
    assert wait_for(lambda: len(escaped()) == 1)  # w@1's escaped child went with it, w@2's stays
    assert not Path(recs[0]["cgroup"]).exists() and Path(recs[1]["cgroup"]).exists() and alive(sup)
    assert_ok(dctl("stop", "w"))
    assert wait_gone(sup) and wait_for(lambda: not escaped())
    assert cgroups_of(dctl.state_dir) == []


def test_an_instance_its_supervisor_cannot_deal_with_is_given_up_alone(dctl):
    # Recording w@2's end raises an OSError nothing expects (DAEMONCTL_TEST_FAIL_AT, as a broken
    # record, cgroup or log would): w@2 is given up as the policy gives up, the others go on.
    env = {**dctl.env, "DAEMONCTL_TEST_FAIL_AT": "pool:ended:w@2"}
    assert_ok(dctl("start", "-n", "w", "--instances", "3", "--respawn", *FAST, SLEEP, "300", env=env))
    sup = dctl.track(supervisors(dctl, "w", 3).pop())
    progs = [dctl.track(program_pid(dctl, f"w@{i}")) for i in (1, 2, 3)]
    os.kill(progs[1], signal.SIGKILL)
    assert wait_for(lambda: dctl.record("w@2")["state"] == "failed"), "w@2 was not given up"
    assert alive(sup), "the set's supervisor died with w@2"
    assert [ln for ln in log_lines(dctl.logfile("w@2")) if "supervisor" in ln] == [
        "daemonctl: supervisor: giving up instance 2: Input/output error (injected at pool:ended:w@2)"]
    objs, code = status(dctl, "w")
    assert [o["state"] for o in objs] == ["running", "failed", "running"]
    assert not dctl.pidfile("w@2").exists()
    os.kill(progs[0], signal.SIGKILL)  # the others are still supervised
    assert wait_for(lambda: program_pid(dctl, "w@1") != progs[0] and dctl.record("w@1")["state"] == "running")
    dctl.track(program_pid(dctl, "w@1"))
    assert alive(progs[2])
    assert_ok(dctl("stop", "w"))
    assert wait_gone(sup)
    assert not any("Traceback" in ln for i in (1, 2, 3) for ln in log_lines(dctl.logfile(f"w@{i}")))


def children_of(pid):
    """Its children, zombies included: (pid, state)."""
    return [(p, st["state"]) for p in all_pids() if (st := proc_stat(p)) is not None and st["ppid"] == pid]


def test_a_restart_refused_for_a_record_gone_leaves_no_zombie(dctl):
    assert_ok(dctl("start", "-n", "w", "--instances", "2", "--respawn", "--restart-delay", "2", SLEEP, "300"))
    sup = dctl.track(supervisors(dctl, "w", 2).pop())
    progs = [dctl.track(program_pid(dctl, f"w@{i}")) for i in (1, 2)]
    os.kill(progs[0], signal.SIGKILL)
    assert wait_for(lambda: dctl.record("w@1")["state"] == "restarting")
    dctl.recordfile("w@1").unlink()  # during its delay: the restart finds no record, and is refused
    os.kill(progs[1], signal.SIGKILL)
    # w@2's restart is due after w@1's: once w@2 runs again, w@1's refused restart is behind us.
    assert wait_for(lambda: program_pid(dctl, "w@2") != progs[1] and dctl.record("w@2")["state"] == "running")
    new = dctl.track(program_pid(dctl, "w@2"))
    assert [p for p, _ in children_of(sup)] == [new], f"the refused restart's child was left unreaped: {children_of(sup)}"
    assert not dctl.recordfile("w@1").exists()


def test_term_to_the_set_supervisor_while_it_restarts_a_program_stops_that_program_too(dctl):
    # The set's supervisor pauses in w@1's restart (DAEMONCTL_TEST_PAUSE_AT): the new program runs
    # and is recorded, but the loop does not hold it as w@1's yet. The TERM sent meanwhile is
    # handled as soon as it goes on: every program, that one too, must get it.
    env = {**dctl.env, "DAEMONCTL_TEST_PAUSE_AT": "supervisor:restarted"}
    assert_ok(dctl("start", "-n", "w", "--instances", "2", "--respawn", *FAST, SLEEP, "300", env=env))
    sup = dctl.track(supervisors(dctl, "w", 2).pop())
    progs = [dctl.track(program_pid(dctl, f"w@{i}")) for i in (1, 2)]
    os.kill(progs[0], signal.SIGKILL)
    assert wait_for(lambda: (proc_stat(sup) or {}).get("state") == "T"), "the supervisor never paused in the restart"
    new = dctl.track(program_pid(dctl, "w@1"))
    assert new != progs[0] and alive(new)
    os.kill(sup, signal.SIGTERM)
    os.kill(sup, signal.SIGCONT)
    assert wait_gone(new), f"the program started as the TERM came was never stopped (supervisor alive: {alive(sup)})"
    assert wait_gone(sup) and wait_gone(progs[1])
    objs, code = status(dctl, "w")
    assert code == 3 and [o["state"] for o in objs] == ["stopped"] * 2
    assert [o["restarts"] for o in objs] == [1, 0]  # nothing restarted after the TERM
    assert not any(dctl.pidfile(f"w@{i}").exists() for i in (1, 2))
