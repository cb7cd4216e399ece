"""The usage figures: from a v2 cgroup's files, the v1 memory cgroup, else /proc; and the OOM count."""

import os
from pathlib import Path

from cgroup_fakes import fake_mkdir

from daemonctl.proc import usage
from daemonctl.proc.usage import Usage

PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")


def fake_proc(tmp_path: Path, procs: dict[int, tuple[int, int]]) -> str:
    """pid -> (resident pages, utime+stime+cutime+cstime ticks, split over the four fields)."""
    proc = tmp_path / "proc"
    for pid, (pages, ticks) in procs.items():
        (proc / str(pid)).mkdir(parents=True)
        (proc / str(pid) / "statm").write_text(f"1000 {pages} 10 1 0 50 0\n")
        fields = ["S", "1", str(pid), str(pid), "0", "-1", "0", "0", "0", "0", "0", str(ticks), "0", "0", "0"] + ["0"] * 10
        (proc / str(pid) / "stat").write_text(f"{pid} (a (b) c) " + " ".join(fields) + "\n")
    return str(proc)


def test_v2_files_give_every_figure(tmp_path):
    d = tmp_path / "d"
    fake_mkdir(str(d))
    (d / "cgroup.procs").write_text("10\n11\n")
    (d / "memory.current").write_text("1048576\n")
    (d / "cpu.stat").write_text("usage_usec 2500000\nuser_usec 2000000\n")
    assert usage.of_cgroup(str(d), proc=str(tmp_path / "noproc")) == Usage(2, 1 << 20, 2.5)


def test_v1_memory_cgroup_when_v2_has_no_memory_controller(tmp_path):
    d, v1 = tmp_path / "d", tmp_path / "v1"
    fake_mkdir(str(d))
    fake_mkdir(str(v1))
    (d / "cgroup.procs").write_text("10\n")
    (v1 / "memory.usage_in_bytes").write_text("7340032\n")
    (d / "cpu.stat").write_text("usage_usec 1000\n")
    assert usage.of_cgroup(str(d), [str(v1)]) == Usage(1, 7340032, 0.001)


def test_proc_figures_when_the_cgroup_keeps_neither(tmp_path):
    d = tmp_path / "d"
    fake_mkdir(str(d))
    fake_mkdir(str(d / "program"))
    (d / "program" / "cgroup.procs").write_text("10\n11\n")
    proc = fake_proc(tmp_path, {10: (100, 3 * TICK), 11: (50, TICK)})
    assert usage.of_cgroup(str(d), proc=proc) == Usage(2, 150 * PAGE, 4.0)


def test_a_gone_cgroup_knows_nothing(tmp_path):
    assert usage.of_cgroup(str(tmp_path / "gone")) == usage.NO_FIGURES


def test_processes_without_a_cgroup(tmp_path):
    proc = fake_proc(tmp_path, {10: (100, TICK)})
    assert usage.of_processes([10, 99], proc) == Usage(2, 100 * PAGE, 1.0)  # 99 vanished meanwhile: counted, not read
    assert usage.of_processes([], proc) == Usage(0, 0, 0.0)


def test_json_rounds_cpu_time():
    assert Usage(1, 2, 1.23456).to_json() == {"tasks": 1, "memory": 2, "cpu_seconds": 1.235}
    assert usage.NO_FIGURES.to_json() == {"tasks": None, "memory": None, "cpu_seconds": None}


def test_oom_kills_from_v2_then_v1(tmp_path):
    p, v1 = tmp_path / "p", tmp_path / "v1"
    p.mkdir(), v1.mkdir()
    assert usage.oom_kills(str(p), [str(v1)]) is None
    (v1 / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    assert usage.oom_kills(str(p), [str(v1)]) == 2
    (p / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    assert usage.oom_kills(str(p), [str(v1)]) == 1
