"""A time limit for every test, so that a test that hangs fails instead of stalling the run.

A supervision loop that never gives up, or a wait on a process that never ends, would
otherwise keep `make test` (and CI, which has a deadline of its own) busy until killed,
with no word about which test it was. Each test gets DAEMONCTL_TEST_TIMEOUT seconds
(default 240), or what its `@pytest.mark.timeout(SECONDS)` says; past that, SIGALRM
fails it with the test's name and the limit. pytest-timeout would do the same with
one more dependency; this is all of it that the suite needs.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from types import FrameType

import pytest

DEFAULT_LIMIT = float(os.environ.get("DAEMONCTL_TEST_TIMEOUT", "240"))


class TestTimeout(Exception):
    """Raised inside a test that ran past its time limit."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "timeout(seconds): fail the test when it runs longer than this")


def _limit(item: pytest.Item) -> float:
    marker = item.get_closest_marker("timeout")
    return float(marker.args[0]) if marker and marker.args else DEFAULT_LIMIT


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    limit = _limit(item)

    def expired(signum: int, frame: FrameType | None) -> None:
        raise TestTimeout(f"{item.nodeid} ran longer than its limit of {limit:g}s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
