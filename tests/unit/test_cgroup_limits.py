"""The limits' values as the options take them, and the files each cgroup version spells them in."""

import pytest

from daemonctl.errors import UsageError
from daemonctl.proc import cgroup_limits as cl
from daemonctl.proc.cgroup_limits import CgroupLimits


@pytest.mark.parametrize(("text", "size"), [
    ("1048576", 1 << 20), ("512M", 512 << 20), ("512m", 512 << 20), ("2G", 2 << 30), ("1.5G", 3 << 29),
    ("64K", 64 << 10), ("1T", 1 << 40), (" 100M ", 100 << 20),
])
def test_sizes(text, size):
    assert cl.parse_size(text) == size


@pytest.mark.parametrize("text", ["", "M", "-1", "0", "1X", "1e9", "nan", "inf", "1.2.3", "10 M", "２G", "1KB"])
def test_bad_sizes_are_usage_errors_naming_the_option(text):
    with pytest.raises(UsageError, match="--memory-max"):
        cl.parse_size(text)


def test_sizes_past_the_top_are_out_of_range():
    with pytest.raises(UsageError, match="out of range"):
        cl.parse_size("2000000000T")


@pytest.mark.parametrize(("text", "n"), [("1", 1), ("100", 100), ("4194304", 4194304)])
def test_tasks(text, n):
    assert cl.parse_tasks(text) == n


@pytest.mark.parametrize("text", ["0", "-3", "1.5", "max", "", "4194305"])
def test_bad_tasks(text):
    with pytest.raises(UsageError, match="--tasks-max"):
        cl.parse_tasks(text)


@pytest.mark.parametrize(("text", "percent"), [("50", 50), ("250", 250), ("12.5", 12.5), ("50%", 50), ("1", 1)])
def test_percent(text, percent):
    assert cl.parse_percent(text) == percent


@pytest.mark.parametrize("text", ["0", "0.5", "-50", "abc", "", "100001", "nan"])
def test_bad_percent(text):
    with pytest.raises(UsageError, match="--cpu-max"):
        cl.parse_percent(text)


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


def test_limits_in_words():
    assert cl.describe("memory_max", 512 << 20) == "512M"
    assert cl.describe("memory_max", 1536 << 20) == "1536M"
    assert cl.human_bytes(1500) == "1.5K"
    assert cl.human_bytes(100) == "100B"
    assert cl.describe("tasks_max", 5) == "5 tasks"
    assert cl.describe("cpu_max", 12.5) == "12.5% CPU"
