"""Containment and resource limits (issue 13), with real processes and real cgroups.

On this machine's layout (root; hybrid or pure v2, whichever it is) and, in a private
mount namespace with a cgroup2 mount over /sys/fs/cgroup, on the pure-v2 layout of
current distributions. Every test checks that the cgroups it made are gone; the
_cleanup fixture fails a test that leaves one behind that would not go.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from .helpers import (
    PY,
    SLEEP,
    alive,
    assert_ok,
    assert_one_error,
    cgroups_of,
    cgroups_usable,
    live_pids_where,
    log_lines,
    proc_stat,
    wait_for,
    wait_gone,
)

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _cgroups():
    if not cgroups_usable():
        pytest.skip("needs root and a cgroup v2 hierarchy")


def v2_cgroup(pid: int) -> str:
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        if line.startswith("0::"):
            return line[3:]
    raise AssertionError(f"pid {pid} has no cgroup v2 line")


def cgroup_pids(path: str) -> list[int]:
    return [int(p) for d, _, _ in os.walk(path) for p in Path(d, "cgroup.procs").read_text().split()]


def marked(marker: str) -> list[int]:
    """Live `sleep MARKER` processes (a sleep of an unusual number; not the shell whose script names it)."""
    def is_it(pid: int) -> bool:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
        return len(argv) == 2 and argv[0].endswith(b"sleep") and argv[1] == marker.encode()

    return live_pids_where(is_it)


# Each leaves, beside the program, a process that the process group does not hold.
ESCAPES = {
    "setsid": "setsid {sleep} 5551 & exec {sleep} 7771",
    "double fork": "( ( setsid {sleep} 5552 & ) & ) ; exec {sleep} 7772",
    "new group": f"{PY} -c 'import os; os.setpgid(0, 0); os.execv(\"{{sleep}}\", [\"sleep\", \"5553\"])' & exec {{sleep}} 7773",
}


@pytest.mark.parametrize("how", list(ESCAPES))
def test_children_that_left_the_group_are_stopped_and_the_cgroup_removed(dctl, how):
    script = ESCAPES[how].format(sleep=SLEEP)
    marker = script.split()[-1]
    escaped = "555" + marker[-1]
    pid = dctl.start("esc", "sh", "-c", script)
    rec = dctl.record("esc")
    assert rec["cgroup"] and Path(rec["cgroup"]).is_dir()
    assert wait_for(lambda: marked(escaped)), "the escaping child never ran"
    child = marked(escaped)[0]
    assert proc_stat(child)["pgrp"] != pid  # out of the group that stop used to signal
    assert sorted(cgroup_pids(rec["cgroup"])) == sorted([pid, child])
    assert v2_cgroup(child) == v2_cgroup(pid)
    assert_ok(dctl("stop", "esc"))
    assert not alive(pid) and wait_gone(child, timeout=0.5), f"{how}: the child outlived stop"
    assert not Path(rec["cgroup"]).exists()
    assert cgroups_of(dctl.state_dir) == []


def test_a_wait_on_a_cgroup_that_stop_removes_meanwhile_ends(tmp_path):
    # The kernel answers ENODEV on a cgroup file opened before its rmdir: a set's supervisor
    # clearing an instance's cgroup as `stop NAME@i` removed it died of that.
    from daemonctl.proc import cgroupfs, containment
    from daemonctl.proc.cgroupstop import members_of

    layout = cgroupfs.discover(cgroupfs.cgroup_root(os.environ))
    assert layout.v2 is not None
    path = Path(layout.v2, containment.SUBTREE, f"itest-removed-{tmp_path.name}-{os.getpid()}")
    path.mkdir(parents=True)
    program = subprocess.Popen([SLEEP, "300"])
    try:
        (path / "cgroup.procs").write_text(str(program.pid))
        members = members_of(str(path))
        assert members is not None and members.members() == [program.pid]

        def stopped_and_removed(fd: int, timeout: float) -> None:
            program.kill()
            program.wait()
            assert wait_for(lambda: cgroupfs.populated(str(path)) is False)
            path.rmdir()

        members.waiter = stopped_and_removed
        assert members.wait_gone(30.0)
        assert not path.exists()
    finally:
        program.kill()
        program.wait()
        if path.exists():
            path.rmdir()


def test_remove_of_a_daemon_that_ended_on_its_own_removes_its_cgroup(dctl):
    """Never stopped, a daemon whose program exited still has its cgroup: `remove` takes it away."""
    assert_ok(dctl("start", "-n", "brief", "sh", "-c", "exit 0"))
    path = Path(dctl.record("brief")["cgroup"])
    assert wait_for(lambda: dctl("status", "brief").returncode == 1)
    assert path.is_dir()
    assert_ok(dctl("remove", "brief"))
    assert not path.exists()
    assert cgroups_of(dctl.state_dir) == []


def test_two_hundred_children_that_ignore_term_are_all_killed(dctl):
    code = textwrap.dedent("""
        import os, signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for _ in range(200):
            if os.fork() == 0:
                os.setsid()  # every one out of the group
                while True:
                    time.sleep(1)
        print("forked", flush=True)
        while True:
            time.sleep(1)
    """)
    pid = dctl.start("many", PY, "-c", code)
    assert wait_for(lambda: "forked" in log_lines(dctl.logfile("many")), timeout=30)
    path = dctl.record("many")["cgroup"]
    pids = cgroup_pids(path)
    assert len(pids) == 201 and pid in pids
    cp = dctl("stop", "--schedule", "TERM/1/KILL/10", "many")
    assert_ok(cp)
    assert [p for p in pids if alive(p)] == []
    assert not Path(path).exists()


def test_status_reports_the_cgroup_and_what_the_daemon_uses(dctl):
    pid = dctl.start("fig", "sh", "-c", f"{SLEEP} 5561 & exec {PY} -c 'b = bytearray(32 << 20); import time; time.sleep(300)'")
    assert wait_for(lambda: marked("5561"))
    data = json.loads(dctl("status", "--json", "fig").stdout)
    assert data["cgroup"] == dctl.record("fig")["cgroup"] and v2_cgroup(pid) in data["cgroup"]
    assert data["tasks"] == 2
    assert data["memory"] >= 32 << 20
    assert isinstance(data["cpu_seconds"], float) and data["cpu_seconds"] >= 0
    words = dctl("status", "fig").stdout + dctl("status", "fig").stderr
    assert "2 processes" in words and f"in cgroup {data['cgroup']}" in words
    assert_ok(dctl("stop", "fig"))
    data = json.loads(dctl("status", "--json", "fig").stdout)
    assert (data["cgroup"], data["tasks"], data["memory"], data["cpu_seconds"]) == (None, None, None, None)


@pytest.mark.parametrize("writer", [[], ["--log-timestamps"]], ids=["logs by the program", "logs by the supervisor"])
def test_respawn_runs_each_program_in_the_daemons_cgroup_apart_from_the_supervisor(dctl, writer):
    dctl.start("sup", SLEEP, "5571", opts=["--respawn", "--restart-delay", "0", "--limit", "nofile=77", *writer])
    rec = dctl.record("sup")
    top, program, supervisor = rec["cgroup"], rec["pid"], rec["supervisor_pid"]
    rel = v2_cgroup(program).rsplit("/", 1)[0]
    assert v2_cgroup(program) == f"{rel}/program" and v2_cgroup(supervisor) == f"{rel}/supervisor"
    os.kill(program, 9)
    assert wait_for(lambda: dctl.record("sup")["pid"] not in (None, program), timeout=10)
    again = dctl.record("sup")["pid"]
    assert v2_cgroup(again) == f"{rel}/program"
    assert "Max open files            77                   77" in Path(f"/proc/{again}/limits").read_text()
    assert_ok(dctl("stop", "sup"))
    assert not alive(again) and not alive(supervisor)
    assert not Path(top).exists()


HOG = "import time; b = bytearray(256 << 20); time.sleep(300)"


def test_over_memory_max_the_program_is_killed(dctl):
    cp = dctl("start", "-n", "hog", "--memory-max", "64M", "--wait", "10", PY, "-c", HOG)
    assert_one_error(cp, 1)
    assert "KILL" in cp.stderr
    assert cgroups_of(dctl.state_dir) == []


def test_oom_under_respawn_is_reported_and_restarted(dctl):
    dctl.start("oom", PY, "-c", HOG, opts=["--respawn", "--memory-max", "64M", "--restart-delay", "0.2"])
    assert wait_for(lambda: dctl.record("oom")["restarts"] >= 1, timeout=30)
    data = json.loads(dctl("status", "--json", "oom").stdout)
    assert data["last_exit"]["oom"] is True and data["last_exit"]["signal"] == 9
    assert "too much memory" in dctl("status", "oom").stdout + dctl("status", "oom").stderr
    assert alive(data["supervisor_pid"])  # the limit is the program's: its supervisor lives on
    assert_ok(dctl("stop", "oom"))
    assert cgroups_of(dctl.state_dir) == []


def test_forks_past_tasks_max_fail(dctl):
    code = textwrap.dedent("""
        import os, time
        made = 0
        for _ in range(20):
            try:
                if os.fork() == 0:
                    time.sleep(300)
                    os._exit(0)
                made += 1
            except OSError as err:
                print("fork failed after", made, err.strerror, flush=True)
                break
        time.sleep(300)
    """)
    dctl.start("few", PY, "-c", code, opts=["--tasks-max", "5"])
    assert wait_for(lambda: any("fork failed" in ln for ln in log_lines(dctl.logfile("few"))), timeout=20)
    line = next(ln for ln in log_lines(dctl.logfile("few")) if "fork failed" in ln)
    assert line.startswith("fork failed after 4 ")  # the program and 4 children make 5
    assert_ok(dctl("stop", "few"))
    assert cgroups_of(dctl.state_dir) == []


def test_limit_values_reach_the_program_and_restart_keeps_them(dctl):
    opts = ["--limit", "nofile=123:456", "--limit", "core=unlimited", "--limit", "stack=8M"]
    pid = dctl.start("lim", SLEEP, "5581", opts=opts)

    def limits(p: int) -> dict[str, list[str]]:
        rows = Path(f"/proc/{p}/limits").read_text().splitlines()[1:]
        return {row[:26].strip(): row[26:].split()[:2] for row in rows}

    assert limits(pid)["Max open files"] == ["123", "456"]
    assert limits(pid)["Max core file size"] == ["unlimited", "unlimited"]
    assert limits(pid)["Max stack size"] == [str(8 << 20)] * 2
    assert_ok(dctl("restart", "lim"))
    again = dctl.pid("lim")
    dctl.track(again)
    assert again != pid and limits(again)["Max open files"] == ["123", "456"]
    assert_ok(dctl("stop", "lim"))


def test_cgroup_limits_are_in_the_hierarchy_that_enforces_them(dctl):
    dctl.start("where", SLEEP, "5591", opts=["--memory-max", "100M", "--tasks-max", "50", "--cpu-max", "50"])
    rec = dctl.record("where")
    for v1 in rec["cgroup_v1"]:  # hybrid: the v1 controllers (pure v2: none, all in the cgroup itself)
        assert Path(v1).name == Path(rec["cgroup"]).name
    files = {
        "memory": ("memory.max", "memory.limit_in_bytes", str(100 << 20)),
        "pids": ("pids.max", "pids.max", "50"),
        "cpu": ("cpu.max", "cpu.cfs_quota_us", None),
    }
    for controller, (v2_file, v1_file, value) in files.items():
        v1 = [p for p in rec["cgroup_v1"] if f"/{controller}/" in p]
        path = Path(v1[0], v1_file) if v1 else Path(rec["cgroup"], v2_file)
        text = path.read_text().strip()
        expected = value if value is not None else ("50000" if v1 else "50000 100000")
        assert text == expected, f"{path}: {text}"
    assert_ok(dctl("stop", "where"))
    assert cgroups_of(dctl.state_dir) == []


@pytest.mark.parametrize("bad", [
    ["--memory-max", "lots"], ["--memory-max", "0"], ["--tasks-max", "0"], ["--cpu-max", "0.5"],
    ["--limit", "nofile=10:5"], ["--limit", "files=10"], ["--limit", "nofile"],
])
def test_bad_limit_values_exit_2_and_leave_nothing(dctl, bad):
    assert_one_error(dctl("start", "-n", "bad", *bad, SLEEP, "5600"), 2, only_line=True)
    assert not dctl.state_dir.exists() or list(dctl.state_dir.iterdir()) == []
    assert cgroups_of(dctl.state_dir) == []


def test_a_limit_nothing_enforces_fails_the_start_with_one_line(dctl, tmp_path):
    env = {**dctl.env, "DAEMONCTL_CGROUP_ROOT": str(tmp_path / "no-cgroups")}
    cp = dctl("start", "-n", "nolim", "--tasks-max", "5", SLEEP, "5601", env=env)
    assert_one_error(cp, 1, only_line=True)
    assert "--tasks-max" in cp.stderr and "no cgroup v2" in cp.stderr
    assert not dctl.state_dir.exists() or list(dctl.state_dir.iterdir()) == []
    assert marked("5601") == []


def test_without_cgroups_stop_finds_the_setsid_child_in_proc(dctl, tmp_path):
    """The fallback, as for a user with no delegated cgroup (the root is pointed at an empty directory)."""
    env = {**dctl.env, "DAEMONCTL_CGROUP_ROOT": str(tmp_path / "no-cgroups")}
    pid = dctl.start("fb", "sh", "-c", f"setsid {SLEEP} 5611 & exec {SLEEP} 7611", env=env)
    assert wait_for(lambda: marked("5611"))
    child = marked("5611")[0]
    data = json.loads(dctl("status", "--json", "fb", env=env).stdout)
    assert data["cgroup"] is None and data["tasks"] == 1  # its group: the setsid child left it
    assert "no cgroup" in dctl("status", "fb", env=env).stdout
    assert_ok(dctl("stop", "fb", env=env))
    assert not alive(pid) and wait_gone(child, timeout=0.5)


def test_as_a_user_without_a_delegated_cgroup_stop_finds_the_setsid_child(dctl, nobody_daemonctl, home):
    state = home / "state"  # nobody's own
    dctl.nobody_exe = nobody_daemonctl

    def as_nobody(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(dctl.nobody_argv(*args, state_dir=state), capture_output=True, text=True, timeout=60,
                              env=dctl.env, cwd="/")

    dctl.extra_state_dirs.append(state)
    assert_ok(as_nobody("start", "-n", "user", "sh", "-c", f"setsid {SLEEP} 5621 & exec {SLEEP} 7621"))
    pid = int((state / "user.pid").read_text())
    dctl.track(pid)
    assert wait_for(lambda: marked("5621"))
    child = marked("5621")[0]
    dctl.track(child)
    data = json.loads(as_nobody("status", "--json", "user").stdout)
    assert data["cgroup"] is None
    assert_ok(as_nobody("stop", "user"))
    assert not alive(pid) and wait_gone(child, timeout=0.5)
    cp = as_nobody("start", "-n", "lim", "--memory-max", "10M", SLEEP, "5622")
    assert_one_error(cp, 1, only_line=True)
    assert "--memory-max" in cp.stderr


# Inside a private mount namespace: a cgroup2 mount over /sys/fs/cgroup hides this machine's
# layout, as on a pure cgroup v2 distribution. Every command runs in the namespace, where the
# daemon's cgroup is found; the checks print what the test asserts.
PURE_V2 = r"""
set -eu
mount -t cgroup2 none /sys/fs/cgroup
test -f /sys/fs/cgroup/cgroup.controllers
dc() { "$DAEMONCTL" --state-dir "$STATE" "$@"; }
dc start -q -n pure sh -c "setsid $SLEEP 5631 & exec $SLEEP 7631"
cg=$(dc status --json pure | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["cgroup"])')
echo "cgroup $cg"
i=0; until pgrep -fx "$SLEEP 5631" >/dev/null; do i=$((i+1)); [ $i -lt 200 ] || exit 9; sleep 0.02; done
echo "members $(cat "$cg/cgroup.procs" | wc -l)"
dc stop -q pure
echo "left $(pgrep -fx "$SLEEP 5631" | wc -l) $(pgrep -fx "$SLEEP 7631" | wc -l)"
test -e "$cg" && echo "cgroup still there" || echo "cgroup removed"
echo "enabled $(cat /sys/fs/cgroup/cgroup.subtree_control)"
if dc start -q -n nope --memory-max 64M "$SLEEP" 5632 2>"$STATE.err"; then
    echo "limit started $(cat /sys/fs/cgroup/daemonctl/*.nope/memory.max)"
    dc stop -q nope
else
    echo "limit refused $?"
fi
cat "$STATE.err"
"""


def test_pure_cgroup_v2_layout_in_a_private_mount_namespace(dctl, daemonctl_exe):
    if not shutil.which("unshare"):
        pytest.fail("unshare (util-linux) is needed for the pure cgroup v2 layout")
    env = {**dctl.env, "DAEMONCTL": daemonctl_exe, "STATE": str(dctl.state_dir), "SLEEP": SLEEP, "PY": PY}
    cp = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", PURE_V2],
                        capture_output=True, text=True, timeout=60, env=env)
    assert cp.returncode == 0, cp.stderr
    out = cp.stdout.splitlines()
    assert out[0].startswith("cgroup /sys/fs/cgroup/daemonctl/") and out[0].endswith(".pure"), out
    assert out[1] == "members 2"
    assert out[2] == "left 0 0"
    assert out[3] == "cgroup removed"
    if "memory" in out[4].split()[1:]:
        # A pure v2 machine: its memory controller enforces the limit.
        assert out[5] == f"limit started {64 << 20}" and len(out) == 6
    else:
        # This machine's controllers belong to cgroup v1, which the namespace hides: nothing enforces it.
        assert out[5] == "limit refused 1"
        assert out[6].startswith("daemonctl: error: cannot enforce --memory-max here") and len(out) == 7
    assert marked("5631") == [] and marked("5632") == []
