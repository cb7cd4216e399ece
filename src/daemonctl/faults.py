"""Test-only fault injection: DAEMONCTL_TEST_CRASH_AT=STEP makes daemonctl SIGKILL itself at STEP,
DAEMONCTL_TEST_PAUSE_AT=STEP makes it SIGSTOP itself there (a race made deterministic:
the test acts, then sends SIGCONT).

The crash-consistency tests use it to show that whatever step daemonctl dies
at, the next command finds a consistent state. Unset, a step costs one compare.
"""

from __future__ import annotations

import os
import signal

_CRASH_AT = os.environ.get("DAEMONCTL_TEST_CRASH_AT")
_PAUSE_AT = os.environ.get("DAEMONCTL_TEST_PAUSE_AT")


def crash_point(step: str) -> None:
    if _CRASH_AT is not None and _CRASH_AT == step:
        os.kill(os.getpid(), signal.SIGKILL)
    if _PAUSE_AT is not None and _PAUSE_AT == step:
        os.kill(os.getpid(), signal.SIGSTOP)
