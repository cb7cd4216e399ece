"""Test-only fault injection: DAEMONCTL_TEST_CRASH_AT=STEP makes daemonctl SIGKILL itself at STEP,
DAEMONCTL_TEST_PAUSE_AT=STEP makes it SIGSTOP itself there (a race made deterministic:
the test acts, then sends SIGCONT), DAEMONCTL_TEST_FAIL_AT=STEP makes a fail_point there raise
an OSError (EIO) that nothing expects.

The crash-consistency tests use it to show that whatever step daemonctl dies
at, the next command finds a consistent state. Unset, a step costs one compare.
"""

from __future__ import annotations

import os

_CRASH_AT = os.environ.get("DAEMONCTL_TEST_CRASH_AT")
_PAUSE_AT = os.environ.get("DAEMONCTL_TEST_PAUSE_AT")
_FAIL_AT = os.environ.get("DAEMONCTL_TEST_FAIL_AT")


def crash_point(step: str) -> None:
    if _CRASH_AT is not None and _CRASH_AT == step:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
    if _PAUSE_AT is not None and _PAUSE_AT == step:
        import signal

        os.kill(os.getpid(), signal.SIGSTOP)


def fail_point(step: str) -> None:
    if _FAIL_AT is not None and _FAIL_AT == step:
        import errno

        raise OSError(errno.EIO, f"{os.strerror(errno.EIO)} (injected at {step})")
