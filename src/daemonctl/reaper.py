"""Learning how a just-started daemon ended, although it is not our child.

After the double fork the daemon's parent is init. For `--wait`, daemonctl
makes itself a child subreaper first: the orphaned daemon is then reparented
to daemonctl, which can reap it and report its exit status; once daemonctl
exits the daemon passes on to init as usual.
"""

from __future__ import annotations

import os
import signal

from .waiting import wait_exit

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def watch(pid: int, seconds: float) -> int | None:
    """The wait status if PID ends within `seconds`; None if it is still running.

    -1 stands for "ended, status unknown" (not our child to reap).
    """
    if not wait_exit(pid, seconds):
        return None
    try:
        _, status = os.waitpid(pid, 0)
        return status
    except ChildProcessError:
        return -1


def describe(status: int) -> str:
    if status == -1:
        return "ended"
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return f"was killed by {name}"
    return f"exited with status {os.WEXITSTATUS(status)}"
