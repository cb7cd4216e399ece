"""SIGINT, SIGTERM and SIGHUP as an exception, so that a command ends with 128+N and no traceback."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopSignal(BaseException):
    """Raised where the program is when a stop signal arrives; not an Exception, like KeyboardInterrupt."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise(signum: int, frame: FrameType | None) -> None:
    raise StopSignal(signum)


@contextmanager
def exit_on_stop_signals() -> Iterator[None]:
    """Meanwhile a stop signal raises StopSignal; a signal the caller ignored stays ignored."""
    previous = {}
    for sig in STOP_SIGNALS:
        if signal.getsignal(sig) is not signal.SIG_IGN:  # e.g. SIGHUP under nohup
            previous[sig] = signal.signal(sig, _raise)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
