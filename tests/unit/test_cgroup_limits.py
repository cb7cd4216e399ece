"""The files each cgroup version spells the limits in."""

from daemonctl.proc import cgroup_limits as cl
from daemonctl.proc.cgroup_limits import CgroupLimits


def test_v2_files():
    assert cl.v2_files("memory_max", 512 << 20) == [("memory.max", str(512 << 20))]
    assert cl.v2_files("tasks_max", 7) == [("pids.max", "7")]
    assert cl.v2_files("cpu_max", 250) == [("cpu.max", "250000 100000")]
    assert cl.v2_files("cpu_max", 12.5) == [("cpu.max", "12500 100000")]


def test_v1_files_set_the_period_before_the_quota():
    assert cl.v1_files("memory_max", 4096) == [("memory.limit_in_bytes", "4096")]
    assert cl.v1_files("tasks_max", 7) == [("pids.max", "7")]
    assert cl.v1_files("cpu_max", 50) == [("cpu.cfs_period_us", "100000"), ("cpu.cfs_quota_us", "50000")]


def test_given_lists_only_the_limits_set():
    assert CgroupLimits().given() == []
    assert CgroupLimits(tasks_max=3, cpu_max=20).given() == [("tasks_max", 3), ("cpu_max", 20)]
