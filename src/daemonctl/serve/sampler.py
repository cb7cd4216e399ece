"""CPU and memory of every daemon, sampled while the server runs, for the dashboard's charts.

Each tick reads the daemons' status; the figures are `status --json`'s `cpu_seconds`
and `memory` (its cgroup's, or its process group's: status.py and proc/usage.py),
None where status cannot know them. A restart
(the restart count going up, or another PID) is marked at the tick it was seen.
"""

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from daemonctl.speedups import NamedTuple

INTERVAL = 2.0  # seconds between samples
KEEP = 300  # samples kept per daemon: ten minutes


class Point(NamedTuple):
    at: float  # seconds since the epoch
    cpu_percent: float | None  # of one CPU, since the previous sample
    memory: int | None  # bytes


class History:
    def __init__(self) -> None:
        self.points: deque[Point] = deque(maxlen=KEEP)
        self.restarts: deque[float] = deque(maxlen=KEEP)
        self.last_cpu: tuple[float, float, int | None] | None = None  # (at, cpu_seconds, pid)
        self.last_seen: tuple[int | None, int] | None = None  # (pid, restarts)


class Sampler:
    """Samples `reports()` (the `status --json` objects) every INTERVAL seconds until stopped."""

    def __init__(
        self,
        reports: Callable[[], list[dict[str, Any]]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.reports, self.clock = reports, clock
        self.histories: dict[str, History] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def sample(self) -> None:
        now = self.clock()
        objects = [o for o in self.reports() if isinstance(o.get("name"), str)]
        running = {o["name"]: o for o in objects if o.get("state") == "running" and isinstance(o.get("pid"), int)}
        with self.lock:
            for name in list(self.histories):
                if name not in {o["name"] for o in objects}:
                    del self.histories[name]  # removed: its chart goes with it
            for obj in objects:
                self._add(self.histories.setdefault(obj["name"], History()), obj, running.get(obj["name"]), now)

    def _add(self, hist: History, obj: dict[str, Any], live: dict[str, Any] | None, now: float) -> None:
        pid, restarts = obj.get("pid"), obj.get("restarts") or 0
        if hist.last_seen is not None and live is not None:
            before_pid, before_restarts = hist.last_seen
            if restarts > before_restarts or (before_pid is not None and pid != before_pid):
                hist.restarts.append(now)
        hist.last_seen = (pid if live is not None else None, restarts)
        if live is None:
            hist.points.append(Point(now, None, None))
            hist.last_cpu = None
            return
        cpu: float | None = live.get("cpu_seconds")
        memory: int | None = live.get("memory")
        percent = None
        if cpu is not None and hist.last_cpu is not None and hist.last_cpu[2] == pid and now > hist.last_cpu[0]:
            percent = max(0.0, (cpu - hist.last_cpu[1]) / (now - hist.last_cpu[0]) * 100)
        hist.last_cpu = (now, cpu, pid) if cpu is not None else None
        hist.points.append(Point(now, None if percent is None else round(percent, 1), memory))

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "interval": INTERVAL,
                "now": self.clock(),
                "daemons": {
                    name: {"points": [list(p) for p in h.points], "restarts": list(h.restarts)}
                    for name, h in sorted(self.histories.items())
                },
            }

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.sample()
            except Exception as err:  # a bad moment (a record being rewritten): the next tick tries again
                import sys

                print(f"daemonctl serve: sampling failed: {err}", file=sys.stderr)
            self.stopping.wait(INTERVAL)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="sampler", daemon=True)
        thread.start()
        return thread

