"""Instructions executed, counted by valgrind's callgrind: a figure the machine's load cannot move.

Wall-clock medians on a shared virtual machine swing by tens of percent from one
minute to the next; the instruction count of the same command is the same every
time. Only the daemonctl process itself is counted (not the daemon it forks),
which is the part the ratios to the floor are about.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile

from common import ENV

SLEEP = shutil.which("sleep") or "/bin/sleep"
TARGETS = {"--help": 1.2, "start": 1.3, "status": 1.3, "stop": 1.5}


def _count(cmd: list[str]) -> int:
    proc = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", "--trace-children=no", *cmd],
        env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    out = proc.stderr
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed under valgrind: {out[-300:]}")
    # A forked child reports its own total first; the command's own comes last.
    counts = [int(n) for n in re.findall(r"Collected : (\d+)", out)]
    if not counts:
        raise RuntimeError(f"callgrind counted nothing for {cmd}: {out[-300:]}")
    return counts[-1]


def instruction_ratios(dc: str) -> None:
    if not shutil.which("valgrind"):
        print("(valgrind not installed: instruction counts left out)")
        return
    script = [sys.executable, dc]  # the console script, run by the interpreter valgrind can follow
    state = tempfile.mkdtemp(prefix="bench-ir-")
    try:
        floor = _count([sys.executable, "-c", "import click"])
        counts = {"--help": _count(script + ["--help"])}
        counts["start"] = _count(script + ["--state-dir", state, "start", "-n", "i", "--", SLEEP, "1000"])
        counts["status"] = _count(script + ["--state-dir", state, "status", "i"])
        # No stop: valgrind does not implement pidfd_open, which stop waits with.
    finally:
        subprocess.run([dc, "--state-dir", state, "-q", "stop", "i"], env=ENV, stderr=subprocess.DEVNULL)
        shutil.rmtree(state, ignore_errors=True)
    print(f"instructions (callgrind), floor = python3 -c 'import click' = {floor / 1e6:.0f} M"
          " (stop is left out: valgrind has no pidfd_open)")
    for op, n in counts.items():
        ratio = n / floor
        print(f"  {op:<8} {n / 1e6:6.0f} M  {ratio:.2f}x  target {TARGETS[op]}x: {'met' if ratio <= TARGETS[op] else 'MISS'}")


if __name__ == "__main__":
    instruction_ratios(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(sys.executable), "daemonctl"))
