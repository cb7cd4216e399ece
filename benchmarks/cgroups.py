"""Containment: stop of a daemon with 200 processes, and status with the usage figures.

stop: the program forks 199 children, each in a session of its own (out of the process
group: only the cgroup, or the search of /proc, reaches them); each stamps the wall
clock into a file of its own just before it exits on SIGTERM. The figure is the time from
the last of those exits to `daemonctl stop` returning (target <= 50 ms), and the whole stop.
status: `status NAME` and `status --json NAME` of that daemon, whose figures (tasks, memory,
CPU) come from its cgroup, against the floor (python3 -c 'import click').
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ENV, median_ms, run

CHILDREN = 199
PROGRAM = (
    "import os, signal, sys, time\n"
    "stamps = sys.argv[1]\n"
    "def bye(*_):\n"
    "    with open(f'{stamps}/{os.getpid()}', 'w') as f: f.write(str(time.time_ns()))\n"
    "    os._exit(0)\n"
    "signal.signal(signal.SIGTERM, bye)\n"
    f"for _ in range({CHILDREN}):\n"
    "    if os.fork() == 0:\n"
    "        os.setsid()\n"
    "        while True: time.sleep(60)\n"
    "open(sys.argv[2], 'w').close()\n"
    "while True: time.sleep(60)\n"
)


def _start(base: list[str], name: str, stamps: Path, ready: Path) -> None:
    stamps.mkdir()
    subprocess.run(base + ["start", "-n", name, "--memory-max", "1G", "--", sys.executable, "-c", PROGRAM,
                           str(stamps), str(ready)], check=True, env=ENV, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.01)


def _stop(base: list[str], name: str, stamps: Path) -> tuple[float, float]:
    """(ms from the last exit to stop's return, ms of the whole stop)."""
    began = time.time_ns()
    subprocess.run(base + ["stop", name], check=True, env=ENV, stderr=subprocess.DEVNULL)
    returned = time.time_ns()
    exits = [int(p.read_text()) for p in stamps.iterdir()]
    if len(exits) != CHILDREN + 1:
        raise RuntimeError(f"{len(exits)} of {CHILDREN + 1} processes stamped their exit")
    return (returned - max(exits)) / 1e6, (returned - began) / 1e6


def cgroup_bench(dc: str, runs: int) -> None:
    state = tempfile.mkdtemp(prefix="bench-cg-")
    base = [dc, "--state-dir", state]
    after, whole, status, status_json, floor = [], [], [], [], []
    try:
        for i in range(max(3, runs // 5)):
            name, stamps, ready = f"c{i}", Path(state) / f"stamps{i}", Path(state) / f"ready{i}"
            _start(base, name, stamps, ready)
            for _ in range(5):
                floor.append(run([sys.executable, "-c", "import click"]))
                status.append(run(base + ["status", name]))
                status_json.append(run(base + ["status", "--json", name]))
            a, w = _stop(base, name, stamps)
            after.append(a)
            whole.append(w)
    finally:
        shutil.rmtree(state, ignore_errors=True)
    last, total, fl = statistics.median(after), statistics.median(whole), median_ms(floor)
    print(f"stop of a daemon with {CHILDREN + 1} processes, {CHILDREN} of them in sessions of their own")
    print(f"  from the last exit to `stop` returning: {last:6.1f} ms  {'met' if last <= 50 else 'MISS'} (target <= 50 ms)")
    print(f"  the whole stop:                         {total:6.1f} ms")
    s, sj = median_ms(status), median_ms(status_json)
    print(f"status of that daemon, with its usage figures (floor {fl:.1f} ms, target 1.3x)")
    print(f"  status NAME:        {s:6.1f} ms  {s / fl:5.2f}x  {'met' if s / fl <= 1.3 else 'MISS'}")
    print(f"  status --json NAME: {sj:6.1f} ms  {sj / fl:5.2f}x  {'met' if sj / fl <= 1.3 else 'MISS'}")
