"""200 daemons in one state directory: per-daemon cost, listing cost, and parallel start/stop."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import ENV, median_ms, repeat, run

SLEEP = shutil.which("sleep") or "/bin/sleep"


def _parallel(cmds: list[list[str]], width: int = 20) -> tuple[float, list[int]]:
    start = time.perf_counter()
    with ThreadPoolExecutor(width) as pool:
        codes = list(pool.map(lambda c: subprocess.run(c, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode, cmds))
    return time.perf_counter() - start, codes


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def _consistency(state: Path, count: int, running: bool) -> str:
    """Check every record, pidfile and process agree; a one-line verdict."""
    problems = 0
    for i in range(count):
        record = json.loads((state / f"s{i}.json").read_text())
        pidfile = state / f"s{i}.pid"
        if running:
            ok = record["state"] == "running" and pidfile.exists() and int(pidfile.read_text()) == record["pid"] and _alive(record["pid"])
        else:
            ok = record["state"] == "stopped" and not pidfile.exists() and not _alive(record["pid"])
        problems += not ok
    return "all consistent" if problems == 0 else f"{problems} INCONSISTENT"


def scale_run(dc: str, count: int, runs: int = 15) -> None:
    one = Path(tempfile.mkdtemp(prefix="bench-one-"))
    many = Path(tempfile.mkdtemp(prefix="bench-many-"))
    try:
        run([dc, "--state-dir", str(one), "start", "-n", "s0", "--", SLEEP, "1000"])
        starts = [[dc, "--state-dir", str(many), "start", "-n", f"s{i}", "--", SLEEP, "1000"] for i in range(count)]
        t_start, codes = _parallel(starts)
        started_ok = sum(c == 0 for c in codes)
        verdict_up = _consistency(many, count, running=True)
        # Alternated, so that the machine's drift moves both figures alike.
        samples: dict[Path, list[float]] = {one: [], many: []}
        for _ in range(runs):
            for state in (one, many):
                samples[state].append(run([dc, "--state-dir", str(state), "status", "s0"]))
        t_one, t_many = median_ms(samples[one]), median_ms(samples[many])
        run([dc, "--state-dir", str(one), "stop", "s0"])
        t_json = repeat(lambda _: run([dc, "--state-dir", str(many), "status", "--json"]), max(3, runs // 2))
        stops = [[dc, "--state-dir", str(many), "stop", f"s{i}"] for i in range(count)]
        t_stop, codes = _parallel(stops)
        stopped_ok = sum(c == 0 for c in codes)
        verdict_down = _consistency(many, count, running=False)
    finally:
        shutil.rmtree(one, ignore_errors=True)
        shutil.rmtree(many, ignore_errors=True)
    print(f"scale: {count} daemons in one state directory")
    print(f"  status of one daemon, 1 in the dir:   {t_one:7.1f} ms")
    print(f"  status of one daemon, {count} in the dir: {t_many:7.1f} ms  ({t_many / t_one:.2f}x)")
    print(f"  status --json of all {count}:          {t_json:7.1f} ms  (target < 500 ms: {'met' if t_json < 500 else 'MISS'})")
    print(f"  start {count}, 20 at a time:            {t_start * 1000:7.0f} ms  {started_ok}/{count} exit 0, {verdict_up}")
    print(f"  stop {count}, 20 at a time:             {t_stop * 1000:7.0f} ms  {stopped_ok}/{count} exit 0, {verdict_down}")
