"""A daemon's cgroup limits (--memory-max, --tasks-max, --cpu-max): their values, and the files that enforce them.

Each limit has one controller; cgroup v2 and v1 spell it in different files.
Which hierarchy enforces it is decided by containment.plan().
"""

import math
from typing import NamedTuple

from daemonctl.errors import UsageError

CPU_PERIOD_US = 100_000  # the quota is per 100 ms, as systemd's CPUQuota=
MAX_BYTES = 1 << 60
MAX_TASKS = 1 << 22  # PID_MAX_LIMIT: more processes and threads than the kernel can have
MAX_PERCENT = 100_000.0  # a thousand CPUs
UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


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


def parse_size(text: str, option: str = "--memory-max") -> int:
    """SIZE in bytes: a number of bytes, or with K, M, G or T (powers of 1024; `1.5G` allowed)."""
    raw = text.strip()
    unit = raw[-1:].upper() if raw[-1:].isalpha() else ""
    number = raw[: len(raw) - len(unit)]
    value = _decimal(number)
    if unit not in UNITS or value is None:
        raise UsageError(f"{option} takes a size in bytes, or with K, M, G or T (512M, 2G), not {text!r}")
    size = int(value * UNITS[unit])
    if not 1 <= size <= MAX_BYTES:
        raise UsageError(f"{option} {text!r} is out of range (1 byte to {MAX_BYTES >> 60} EiB)")
    return size


def parse_tasks(text: str) -> int:
    raw = text.strip()
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_TASKS:
        raise UsageError(f"--tasks-max takes a whole number from 1 to {MAX_TASKS}, not {text!r}")
    return int(raw)


def parse_percent(text: str) -> float:
    """PERCENT of one CPU (`50`, `250`, `12.5`, an optional `%`); at least 1: the kernel's smallest quota is 1 ms per 100 ms."""
    raw = text.strip().removesuffix("%")
    value = _decimal(raw)
    if value is None or not 1 <= value <= MAX_PERCENT:
        raise UsageError(f"--cpu-max takes a percentage of one CPU from 1 to {MAX_PERCENT:g} (50, 250), not {text!r}")
    return int(value) if value == int(value) else value


def _decimal(text: str) -> float | None:
    """A plain decimal number (digits, at most one point); None for anything else (signs, exponents, nan)."""
    if not text or not text.isascii() or text.count(".") > 1 or not text.replace(".", "").isdigit():
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def describe(field: str, value: float) -> str:
    """A limit in words: `512M`, `100 tasks`, `50% CPU`."""
    if field == "memory_max":
        return human_bytes(int(value))
    if field == "tasks_max":
        return f"{int(value)} tasks"
    return f"{value:g}% CPU"


def human_bytes(size: int) -> str:
    """A size the way the options take it: exact with the largest unit that divides it, else one decimal."""
    for unit in ("T", "G", "M", "K"):
        if size >= UNITS[unit] and size % UNITS[unit] == 0:
            return f"{size // UNITS[unit]}{unit}"
    for unit in ("T", "G", "M", "K"):
        if size >= UNITS[unit]:
            return f"{size / UNITS[unit]:.1f}{unit}"
    return f"{size}B"
