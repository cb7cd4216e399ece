"""A daemon's cgroup limits (--memory-max, --tasks-max, --cpu-max) and the files that enforce them.

Each limit has one controller; cgroup v2 and v1 spell it in different files.
Which hierarchy enforces it is decided by containment.plan(); the values are
parsed and checked by resource_limits.py.
"""

from daemonctl.speedups import NamedTuple

CPU_PERIOD_US = 100_000  # the quota is per 100 ms, as systemd's CPUQuota=


class CgroupLimits(NamedTuple):
    memory_max: int | None = None  # bytes
    tasks_max: int | None = None
    cpu_max: float | None = None  # percent of one CPU

    def given(self) -> list[tuple[str, int | float]]:
        """(field, value) of each limit that is set."""
        return [(field, value) for field, value in zip(self._fields, self, strict=True) if value is not None]


CONTROLLER = {"memory_max": "memory", "tasks_max": "pids", "cpu_max": "cpu"}
OPTION = {"memory_max": "--memory-max", "tasks_max": "--tasks-max", "cpu_max": "--cpu-max"}


def cpu_quota_us(percent: float) -> int:
    return round(percent * CPU_PERIOD_US / 100)


def v2_files(field: str, value: float) -> list[tuple[str, str]]:
    """The cgroup v2 files and values that enforce one limit."""
    if field == "memory_max":
        return [("memory.max", str(int(value)))]
    if field == "tasks_max":
        return [("pids.max", str(int(value)))]
    return [("cpu.max", f"{cpu_quota_us(value)} {CPU_PERIOD_US}")]


def v1_files(field: str, value: float) -> list[tuple[str, str]]:
    """The cgroup v1 files and values that enforce one limit (the period before the quota: the kernel checks them together)."""
    if field == "memory_max":
        return [("memory.limit_in_bytes", str(int(value)))]
    if field == "tasks_max":
        return [("pids.max", str(int(value)))]
    return [("cpu.cfs_period_us", str(CPU_PERIOD_US)), ("cpu.cfs_quota_us", str(cpu_quota_us(value)))]
