"""The tools daemonctl is compared with, each doing the same start, status and stop of `sleep`."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ENV, median_ms, rss_kib, run


class StartStopDaemon:
    label = "start-stop-daemon"

    def __init__(self, sleep: str) -> None:
        self.sleep = sleep
        self.ssd = shutil.which("start-stop-daemon") or "/usr/sbin/start-stop-daemon"

    def available(self) -> bool:
        return os.access(self.ssd, os.X_OK)

    def measure(self, runs: int) -> dict[str, float]:
        tmp = tempfile.mkdtemp(prefix="bench-ssd-")
        pidfile = f"{tmp}/b.pid"
        start = [self.ssd, "--start", "--background", "--make-pidfile", "--pidfile", pidfile, "--exec", self.sleep, "--", "1000"]
        status = [self.ssd, "--status", "--pidfile", pidfile]
        stop = [self.ssd, "--stop", "--pidfile", pidfile, "--retry", "TERM/10/KILL/5", "--remove-pidfile"]
        times: dict[str, list[float]] = {"start": [], "status": [], "stop": [], "cycle": []}
        for _ in range(runs):
            a, b, c = run(start), run(status), run(stop)
            for key, value in zip(("start", "status", "stop", "cycle"), (a, b, c, a + b + c)):
                times[key].append(value)
        shutil.rmtree(tmp, ignore_errors=True)
        return {k: median_ms(v) for k, v in times.items()}


class Supervisor:
    """supervisord with one program; supervisorctl does the work (found on PATH or beside python)."""

    label = "supervisorctl"

    def __init__(self, sleep: str) -> None:
        self.sleep = sleep
        here = Path(sys.executable).parent
        self.supervisord = shutil.which("supervisord") or str(here / "supervisord")
        self.ctl = shutil.which("supervisorctl") or str(here / "supervisorctl")

    def available(self) -> bool:
        return os.access(self.supervisord, os.X_OK) and os.access(self.ctl, os.X_OK)

    def measure(self, runs: int) -> dict[str, float]:
        tmp = Path(tempfile.mkdtemp(prefix="bench-sv-"))
        conf = tmp / "supervisord.conf"
        conf.write_text(
            f"[unix_http_server]\nfile={tmp}/sock\n\n[supervisord]\nlogfile={tmp}/sd.log\npidfile={tmp}/sd.pid\n"
            f"nodaemon=true\n\n[rpcinterface:supervisor]\n"
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n"
            f"[supervisorctl]\nserverurl=unix://{tmp}/sock\n\n"
            f"[program:b]\ncommand={self.sleep} 1000\nautostart=false\nautorestart=false\nstartsecs=0\n"
        )
        server = subprocess.Popen([self.supervisord, "-c", str(conf)], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self._wait_ready(conf)
            ctl = [self.ctl, "-c", str(conf)]
            times: dict[str, list[float]] = {"start": [], "status": [], "stop": [], "cycle": []}
            for _ in range(runs):
                a, b, c = run(ctl + ["start", "b"]), run(ctl + ["status", "b"]), run(ctl + ["stop", "b"])
                for key, value in zip(("start", "status", "stop", "cycle"), (a, b, c, a + b + c)):
                    times[key].append(value)
            figures = {k: median_ms(v) for k, v in times.items()}
            figures["resident_kib"] = float(rss_kib(server.pid) or 0)
            return figures
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
            shutil.rmtree(tmp, ignore_errors=True)

    def _wait_ready(self, conf: Path) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if run([self.ctl, "-c", str(conf), "pid"], check=False) < 5 and (conf.parent / "sock").exists():
                return
            time.sleep(0.1)
        raise RuntimeError("supervisord did not come up")
