"""What a daemon uses: its processes, memory and CPU time, from its cgroup where it has one, else from /proc.

A handful of small files per status: read directly (psutil's import alone would
cost status more than all of them).
"""

import os
from collections.abc import Iterable

from daemonctl.proc import cgroupfs
from daemonctl.proc.procfs import PROC
from daemonctl.speedups import NamedTuple


class Usage(NamedTuple):
    tasks: int | None  # processes
    memory: int | None  # bytes
    cpu_seconds: float | None

    def to_json(self) -> dict[str, int | float | None]:
        cpu = None if self.cpu_seconds is None else round(self.cpu_seconds, 3)
        return {"tasks": self.tasks, "memory": self.memory, "cpu_seconds": cpu}


NO_FIGURES = Usage(None, None, None)


def of_cgroup(path: str, v1: Iterable[str] = (), proc: str = PROC) -> Usage:
    """The figures of the cgroup at `path` and below: memory from memory.current, else from the cgroup
    v1 memory cgroup among `v1`, else the processes' resident memory; CPU from cpu.stat."""
    if not os.path.isdir(path):
        return NO_FIGURES
    pids = cgroupfs.procs(path)
    memory = cgroupfs.read_int(f"{path}/memory.current")
    if memory is None:
        memory = next((m for m in (cgroupfs.read_int(f"{d}/memory.usage_in_bytes") for d in v1) if m is not None), None)
    if memory is None:
        memory = resident(pids, proc)
    usec = cgroupfs.read_key(f"{path}/cpu.stat", "usage_usec")
    cpu = usec / 1e6 if usec is not None else cpu_time(pids, proc)
    return Usage(len(pids), memory, cpu)


def of_processes(pids: list[int], proc: str = PROC) -> Usage:
    """The figures of a daemon without a cgroup: the live processes of its group (and what /proc shows of them)."""
    if not pids:
        return Usage(0, 0, 0.0)
    return Usage(len(pids), resident(pids, proc), cpu_time(pids, proc))


def resident(pids: Iterable[int], proc: str = PROC) -> int | None:
    """Resident memory of these processes, summed (memory they share is counted once per process)."""
    page = os.sysconf("SC_PAGE_SIZE")
    total, known = 0, False
    for pid in pids:
        try:
            with open(f"{proc}/{pid}/statm", encoding="utf-8") as f:
                total += int(f.read().split()[1]) * page
            known = True
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
    return total if known else None


def cpu_time(pids: Iterable[int], proc: str = PROC) -> float | None:
    """CPU seconds of these processes and of the children they have reaped (user and system)."""
    ticks, known = 0, False
    for pid in pids:
        try:
            with open(f"{proc}/{pid}/stat", encoding="utf-8", errors="replace") as f:
                fields = f.read().rpartition(")")[2].split()
            # utime, stime, cutime, cstime: fields 14-17 of proc(5); fields[0] is field 3.
            ticks += sum(int(v) for v in fields[11:15])
            known = True
        except (OSError, ValueError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK") if known else None


def oom_kills(program: str, v1: Iterable[str] = ()) -> int | None:
    """How many processes the OOM killer has killed in the program's cgroup so far (v2 memory.events,
    else the v1 memory cgroup's memory.oom_control); None where neither is kept."""
    count = cgroupfs.read_key(f"{program}/memory.events", "oom_kill")
    if count is not None:
        return count
    for path in v1:
        count = cgroupfs.read_key(f"{path}/memory.oom_control", "oom_kill")
        if count is not None:
            return count
    return None
