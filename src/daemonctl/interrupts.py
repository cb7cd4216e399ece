"""SIGINT, SIGTERM and SIGHUP during a start: undo the start instead of leaving it half done.

While a start runs, the three signals are held back (noted, not acted on), so that
nothing is interrupted half-way: forking, committing the pidfile and record, undoing.
Only inside `raising()` (the waits for readiness and --wait) does the first one
raise `Interrupted` at once; once one has come, later ones are only noted, so a
second Ctrl-C cannot break off the undo that the first one started.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from daemonctl.speedups import raw_signal as signal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType

INTERRUPTS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # numbers: _signal's are ints (speedups, trick 9)


class Interrupted(BaseException):
    """A start was interrupted by `signum` (a BaseException, as KeyboardInterrupt is)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class InterruptGuard:
    """Holds back the interrupt signals while installed (a context manager)."""

    def __init__(self) -> None:
        self.received: int | None = None
        self.armed = False
        self.saved: dict[int, Callable[[int, FrameType | None], Any] | int | None] = {}

    def __enter__(self) -> InterruptGuard:
        try:
            for sig in INTERRUPTS:
                previous = signal.signal(sig, self._handle)
                if previous == signal.SIG_IGN:
                    # Ignored by the caller (nohup ignores SIGHUP): it interrupts nothing.
                    signal.signal(sig, previous)
                else:
                    self.saved[sig] = previous
        except ValueError:
            # Not the main thread (a server calling start): signals are not ours to take.
            self._restore()
        return self

    def __exit__(self, *exc: object) -> None:
        self._restore()

    def _restore(self) -> None:
        for sig, handler in self.saved.items():
            signal.signal(sig, handler)
        self.saved = {}

    def _handle(self, signum: int, frame: object) -> None:
        if self.received is None:
            self.received = signum
        if self.armed:
            self.armed = False
            raise Interrupted(signum)

    def check(self) -> None:
        """Raise Interrupted if an interrupt came while it was held back."""
        if self.received is not None:
            raise Interrupted(self.received)

    @contextmanager
    def raising(self) -> Iterator[None]:
        """Within this block the first interrupt raises Interrupted at once."""
        self.check()
        self.armed = True
        try:
            yield
        finally:
            self.armed = False
