"""Memory a --respawn daemon keeps resident: the supervisor's RSS, next to the peers' servers."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from common import ENV, rss_kib

SLEEP = shutil.which("sleep") or "/bin/sleep"
TARGET_MB = 12.0


def supervisor_rss(dc: str, samples: int = 5) -> None:
    state = Path(tempfile.mkdtemp(prefix="bench-rss-"))
    try:
        figures = []
        for i in range(samples):
            subprocess.run([dc, "--state-dir", str(state), "-q", "start", "-n", f"r{i}", "--respawn", "--", SLEEP, "1000"],
                           check=True, env=ENV)
        time.sleep(0.5)  # let every supervisor settle after starting its program
        for i in range(samples):
            record = json.loads((state / f"r{i}.json").read_text())
            kib = rss_kib(record["supervisor_pid"])
            if kib:
                figures.append(kib)
        for i in range(samples):
            subprocess.run([dc, "--state-dir", str(state), "-q", "stop", f"r{i}"], env=ENV)
    finally:
        shutil.rmtree(state, ignore_errors=True)
    if not figures:
        print("supervisor RSS: could not be read")
        return
    mb = max(figures) / 1024
    print(f"--respawn supervisor resident memory: {mb:.1f} MB RSS per daemon (largest of {len(figures)}; "
          f"target < {TARGET_MB:g} MB: {'met' if mb < TARGET_MB else 'MISS'})")
