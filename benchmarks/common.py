"""Timing helpers shared by the benchmark scripts: medians of repeated runs of whole commands."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence

ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE")}


def run(cmd: Sequence[str], check: bool = True, env: dict[str, str] | None = None) -> float:
    """Seconds one command takes, start to exit."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env or ENV)
    elapsed = time.perf_counter() - start
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.decode()[-300:]}")
    return elapsed


def median_ms(samples: Sequence[float]) -> float:
    return statistics.median(samples) * 1000.0


def repeat(step: Callable[[int], float], n: int) -> float:
    """Median in ms of `step(i)` for i in range(n); each step returns the seconds it measured."""
    return median_ms([step(i) for i in range(n)])


def rss_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None
