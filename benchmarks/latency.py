"""How soon `stop` returns after the program exits, also when the exit leaves a zombie.

The program stamps the wall clock just before it exits on SIGTERM; the benchmark
stamps it when `daemonctl stop` returns. For the zombie case this process makes
itself a child subreaper and never reaps: the orphaned daemon is reparented here
and stays a zombie, as under a container's PID 1 that does not reap.
"""

from __future__ import annotations

import ctypes
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ENV

PROGRAM = (
    "import os, signal, sys, time\n"
    "def bye(*_):\n"
    "    with open(sys.argv[1], 'w') as f: f.write(str(time.time_ns()))\n"
    "    os._exit(0)\n"
    "signal.signal(signal.SIGTERM, bye)\n"
    "open(sys.argv[2], 'w').close()\n"
    "while True: time.sleep(60)\n"
)


def _one(dc: str, state: str, i: int) -> float:
    stamp, ready = Path(state) / f"exit{i}", Path(state) / f"ready{i}"
    base = [dc, "--state-dir", state]
    subprocess.run(base + ["start", "-n", f"l{i}", "--", sys.executable, "-c", PROGRAM, str(stamp), str(ready)],
                   check=True, env=ENV, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    subprocess.run(base + ["stop", f"l{i}"], check=True, env=ENV, stderr=subprocess.DEVNULL)
    returned = time.time_ns()
    return (returned - int(stamp.read_text())) / 1e6


def _measure(dc: str, runs: int) -> float:
    state = tempfile.mkdtemp(prefix="bench-lat-")
    try:
        return statistics.median(_one(dc, state, i) for i in range(runs))
    finally:
        shutil.rmtree(state, ignore_errors=True)


def stop_latency(dc: str, runs: int) -> None:
    runs = max(5, runs // 2)
    reaped = _measure(dc, runs)
    libc = ctypes.CDLL(None, use_errno=True)
    zombie_ok = libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    zombie = _measure(dc, runs) if zombie_ok else float("nan")
    libc.prctl(36, 0, 0, 0, 0)
    print("stop latency: from the program's exit to `daemonctl stop` returning (target <= 50 ms)")
    print(f"  exit reaped by PID 1 as usual:        {reaped:6.1f} ms  {'met' if reaped <= 50 else 'MISS'}")
    print(f"  exit left as an unreaped zombie:      {zombie:6.1f} ms  {'met' if zombie <= 50 else 'MISS'}")
