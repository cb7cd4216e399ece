"""Sets of instances: a 16-instance set against 16 separate daemons (start, status, stop), and
the resident memory of a set's one supervisor for 1, 4 and 16 respawned instances."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from common import ENV, median_ms, rss_kib, run

SLEEP = shutil.which("sleep") or "/bin/sleep"
PER_INSTANCE_TARGET_KIB = 1024  # the issue: less than 1 MB more per instance


def set_vs_separate(dc: str, count: int = 16, runs: int = 5) -> None:
    """Median ms of start, status and stop: one command for a set against `count` commands."""
    figures: dict[str, list[float]] = {key: [] for key in ("set start", "set status", "set stop",
                                                          "sep start", "sep status", "sep stop")}
    for _ in range(runs):
        state = tempfile.mkdtemp(prefix="bench-set-")
        base = [dc, "--state-dir", state, "-q"]
        try:
            figures["set start"].append(run(base + ["start", "-n", "s", "--instances", str(count), SLEEP, "1000"]))
            figures["set status"].append(run(base + ["status", "s"]))
            figures["set stop"].append(run(base + ["stop", "s"]))
            figures["sep start"].append(sum(run(base + ["start", "-n", f"d{i}", SLEEP, "1000"]) for i in range(count)))
            figures["sep status"].append(sum(run(base + ["status", f"d{i}"]) for i in range(count)))
            figures["sep stop"].append(sum(run(base + ["stop", f"d{i}"]) for i in range(count)))
        finally:
            shutil.rmtree(state, ignore_errors=True)
    print(f"a set of {count} against {count} separate daemons (median of {runs}):")
    for op in ("start", "status", "stop"):
        one, many = median_ms(figures[f"set {op}"]), median_ms(figures[f"sep {op}"])
        print(f"  {op:<7} set {one:8.1f} ms   separate {many:8.1f} ms   ({many / one:.1f}x)")


def pool_rss(dc: str, counts: tuple[int, ...] = (1, 4, 16)) -> None:
    """RSS of the set's supervisor with N respawned instances, next to one --respawn supervisor."""
    state = Path(tempfile.mkdtemp(prefix="bench-pool-"))
    base = [dc, "--state-dir", str(state), "-q"]
    sizes: dict[int, int] = {}
    try:
        subprocess.run(base + ["start", "-n", "single", "--respawn", SLEEP, "1000"], check=True, env=ENV)
        for n in counts:
            subprocess.run(base + ["start", "-n", f"p{n}", "--instances", str(n), "--respawn", SLEEP, "1000"],
                           check=True, env=ENV)
        time.sleep(0.5)  # let every supervisor settle after starting its programs
        single = rss_kib(json.loads((state / "single.json").read_text())["supervisor_pid"])
        for n in counts:
            kib = rss_kib(json.loads((state / f"p{n}@1.json").read_text())["supervisor_pid"])
            if kib:
                sizes[n] = kib
        for name in ["single", *(f"p{n}" for n in counts)]:
            subprocess.run(base + ["stop", name], env=ENV)
    finally:
        shutil.rmtree(state, ignore_errors=True)
    if single:
        print(f"--respawn supervisor of one daemon: {single / 1024:.1f} MB RSS")
    for n, kib in sizes.items():
        print(f"--respawn --instances {n:<3} one supervisor: {kib / 1024:.1f} MB RSS"
              + (f" (N separate daemons: {n * single / 1024:.1f} MB)" if single else ""))
    lo, hi = min(sizes, default=0), max(sizes, default=0)
    if hi > lo:
        per = (sizes[hi] - sizes[lo]) / (hi - lo)
        print(f"  growth per instance: {per:.0f} KiB (target < {PER_INSTANCE_TARGET_KIB} KiB: "
              f"{'met' if per < PER_INSTANCE_TARGET_KIB else 'MISS'})")
