"""Un-ignoring the signals the C library keeps for itself (32 and 33 with glibc).

glibc's sigaction() refuses them (and `signal.valid_signals` leaves them out), so
`signal.signal` cannot reset them; yet a caller can leave them ignored (GNU make
does), and exec keeps ignored signals. The raw rt_sigaction system call can: an all-zero kernel sigaction
is SIG_DFL with no flags and an empty mask, whatever the architecture's layout.
"""

from __future__ import annotations

import os

SYS_RT_SIGACTION = {"x86_64": 13, "aarch64": 134, "riscv64": 134, "i686": 174, "armv7l": 174, "ppc64le": 173, "s390x": 174}


def ignored_signals(status_path: str = "/proc/self/status") -> set[int]:
    with open(status_path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("SigIgn:"):
                mask = int(line.split()[1], 16)
                return {bit + 1 for bit in range(64) if mask >> bit & 1}
    return set()


def reset_reserved() -> None:  # pragma: no cover - runs in the forked child
    """Set every signal still ignored (after `signal.signal` did what it could) to SIG_DFL."""
    stuck = ignored_signals()
    number = SYS_RT_SIGACTION.get(os.uname().machine)
    if not stuck or number is None:
        return
    from daemonctl.speedups import syscall

    zeros = bytes(64)
    for sig in stuck:
        syscall()(number, sig, zeros, None, 8)
