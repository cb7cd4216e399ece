"""Learning how a just-started daemon ended, although it is not our child.

After the double fork the daemon's parent is init. For `--wait`, daemonctl
makes itself a child subreaper first: the orphaned daemon is then reparented
to daemonctl, which can reap it and report its exit status; once daemonctl
exits the daemon passes on to init as usual.
"""

from __future__ import annotations

import os
import signal
import time

from daemonctl.proc.pidfd import wait_exit

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daemonctl.progress import Progress

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        result: int = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        return result == 0
    except (OSError, AttributeError):
        return False


def watch(pid: int, seconds: float, progress: Progress | None = None) -> int | None:
    """The wait status if PID ends within `seconds`; None if it is still running.

    -1 stands for "ended, status unknown" (not our child to reap). `progress`
    hears how long it has been every TICK.
    """
    if not _wait_exit(pid, seconds, progress):
        return None
    try:
        _, status = os.waitpid(pid, 0)
        return status
    except ChildProcessError:
        return -1


def _wait_exit(pid: int, seconds: float, progress: Progress | None) -> bool:
    if progress is None:
        return wait_exit(pid, seconds)
    from daemonctl.progress import TICK, Watching

    began = time.monotonic()
    while True:
        elapsed = time.monotonic() - began
        if elapsed >= seconds:
            return wait_exit(pid, 0)
        progress(Watching(elapsed, seconds))
        if wait_exit(pid, min(seconds - elapsed, TICK)):
            return True


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
