"""InterruptGuard: interrupts held back, raised only inside raising(), never twice."""
import os
import signal
import time

import pytest

from daemonctl.interrupts import Interrupted, InterruptGuard


def test_held_back_outside_raising_and_raised_at_the_next_check():
    before = signal.getsignal(signal.SIGTERM)
    with InterruptGuard() as guard:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.01)  # a handler that raised would have raised by now
        assert guard.received == signal.SIGTERM
        with pytest.raises(Interrupted) as err:
            guard.check()
        assert err.value.signum == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == before


def test_raised_at_once_inside_raising_and_later_ones_only_noted():
    with InterruptGuard() as guard:
        with pytest.raises(Interrupted) as err:
            with guard.raising():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(5)
        assert err.value.signum == signal.SIGINT
        os.kill(os.getpid(), signal.SIGINT)  # a second Ctrl-C during the undo
        time.sleep(0.01)
        assert guard.received == signal.SIGINT


def test_an_ignored_signal_stays_ignored():
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with InterruptGuard() as guard:
            with guard.raising():
                os.kill(os.getpid(), signal.SIGHUP)
                time.sleep(0.01)
            assert guard.received is None
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)
