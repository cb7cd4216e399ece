"""`logs -n 10` on a 1 GiB log, with and without newlines, against a 1 KiB one and `tail -n 10`.

The 1 GiB files are sparse (a hole, then 1 MiB of text at the end): the cost of
`-n` must depend on the lines shown, never on the size of the file before them.
Figures and ratios, never assertions.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from common import repeat, run

GiB = 1 << 30
MiB = 1 << 20

CASES = {
    "1 KiB, lines": (0, b"".join(b"line %d\n" % i for i in range(120))[:1024]),
    "1 KiB, no newline": (0, b"x" * 1024),
    "1 GiB, lines": (GiB - MiB, b"".join(b"line %08d\n" % i for i in range(MiB // 14 + 1))[:MiB]),
    "1 GiB, no newline": (GiB - MiB, b"x" * MiB),
}


def logs_tail(dc: str, runs: int) -> None:
    state = tempfile.mkdtemp(prefix="bench-logs-")
    tail = shutil.which("tail")
    try:
        for i, (hole, text) in enumerate(CASES.values()):
            with open(os.path.join(state, f"l{i}.log"), "wb") as f:
                f.truncate(hole)
                f.seek(hole)
                f.write(text)
        print(f"logs -n 10 (median of {runs} runs; the 1 GiB files are sparse)")
        print(f"{'log':<20}{'daemonctl':>11}{'x 1 KiB':>9}{'tail -n 10':>12}")
        small: dict[bool, float] = {}
        for i, label in enumerate(CASES):
            path = os.path.join(state, f"l{i}.log")
            ms = repeat(lambda _: run([dc, "--state-dir", state, "logs", "-n", "10", f"l{i}"]), runs)
            newlines = "no newline" not in label
            small.setdefault(newlines, ms)
            peer = f"{repeat(lambda _: run([tail, '-n', '10', path]), runs):>9.1f} ms" if tail else f"{'-':>12}"
            print(f"{label:<20}{ms:>8.1f} ms{ms / small[newlines]:>8.2f}x{peer}")
    finally:
        shutil.rmtree(state, ignore_errors=True)
