"""`logs -n 10` on a 1 GiB log, with and without newlines, against a 1 KiB one and `tail -n 10`.

The 1 GiB files are sparse (a hole, then 1 MiB of text at the end): the cost of
`-n` must depend on the lines shown, never on the size of the file before them.
Figures and ratios, never assertions.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile

from common import median_ms, run

GiB = 1 << 30
MiB = 1 << 20

CASES = {
    "1 KiB, lines": (0, b"".join(b"line %d\n" % i for i in range(120))[:1024]),
    "1 KiB, no newline": (0, b"x" * 1024),
    "1 GiB, lines": (GiB - MiB, b"".join(b"line %08d\n" % i for i in range(MiB // 14 + 1))[:MiB]),
    "1 GiB, no newline": (GiB - MiB, b"x" * MiB),
}


def logs_tail(dc: str, runs: int) -> None:
    """Each round runs every case (daemonctl and tail) in a shuffled order, so drift moves all alike."""
    state = tempfile.mkdtemp(prefix="bench-logs-")
    tail = shutil.which("tail")
    try:
        commands: dict[tuple[str, str], list[str]] = {}
        for i, (label, (hole, text)) in enumerate(CASES.items()):
            path = os.path.join(state, f"l{i}.log")
            with open(path, "wb") as f:
                f.truncate(hole)
                f.seek(hole)
                f.write(text)
            commands[(label, "daemonctl")] = [dc, "--state-dir", state, "logs", "-n", "10", f"l{i}"]
            if tail:
                commands[(label, "tail")] = [tail, "-n", "10", path]
        times: dict[tuple[str, str], list[float]] = {key: [] for key in commands}
        order = list(commands)
        shuffle = random.Random(7)
        for _ in range(runs):
            shuffle.shuffle(order)
            for key in order:
                times[key].append(run(commands[key]))
        ms = {key: median_ms(samples) for key, samples in times.items()}
        print(f"logs -n 10 (median of {runs} runs; the 1 GiB files are sparse, their last MiB text)")
        print(f"{'log':<20}{'daemonctl':>11}{'x 1 KiB':>9}{'tail -n 10':>13}")
        for label in CASES:
            small = "1 KiB, no newline" if "no newline" in label else "1 KiB, lines"
            ours = ms[(label, "daemonctl")]
            peer = f"{ms[(label, 'tail')]:>10.1f} ms" if tail else f"{'-':>13}"
            print(f"{label:<20}{ours:>8.1f} ms{ours / ms[(small, 'daemonctl')]:>8.2f}x{peer}")
    finally:
        shutil.rmtree(state, ignore_errors=True)
