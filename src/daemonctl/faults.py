"""Test-only fault injection: DAEMONCTL_TEST_CRASH_AT=STEP makes daemonctl SIGKILL itself at STEP.

The crash-consistency tests use it to show that whatever step daemonctl dies
at, the next command finds a consistent state. Unset, a step costs one compare.
"""

from __future__ import annotations

import os
import _signal as signal  # not signal.py: its enums cost every run

_CRASH_AT = os.environ.get("DAEMONCTL_TEST_CRASH_AT")


def crash_point(step: str) -> None:
    if _CRASH_AT is not None and _CRASH_AT == step:
        os.kill(os.getpid(), signal.SIGKILL)
