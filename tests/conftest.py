"""A time limit for every test, so that a test that hangs fails instead of stalling the run.

A supervision loop that never gives up, or a wait on a process that never ends, would
otherwise keep `make test` (and CI, which has a deadline of its own) busy until killed,
with no word about which test it was. Each test gets DAEMONCTL_TEST_TIMEOUT seconds
(default 240), or what its `@pytest.mark.timeout(SECONDS)` says; past that, SIGALRM
fails it with the test's name and the limit. pytest-timeout would do the same with
one more dependency; this is all of it that the suite needs.

And no silent skip in CI. Most skips here mean "this machine cannot try that" (not
root, no setpriv, no mount, no user nobody), and the tests that skip that way are the
security ones: the privilege drops, the trust rules, kill(-1) pidfiles, the full disk,
the PID namespace. CI runs as root, where every one of them can and must run: there
(CI set, euid 0) a skip fails the test, unless ALLOWED_SKIPS names it with the reason
it may skip on any machine.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import pytest

DEFAULT_LIMIT = float(os.environ.get("DAEMONCTL_TEST_TIMEOUT", "240"))

# Test function name -> why it may skip even in CI as root.
ALLOWED_SKIPS = {
    # Meaningful only inside the PID-namespace re-run (which runs it, as PID 1).
    "test_inside_namespace_stopped_daemon_is_zombie_and_stop_returns_0": "runs only in the namespace re-run",
    # The outer test skips inside that re-run: it is what started it.
    "test_selection_passes_with_non_reaping_pid1": "skips only inside its own re-run",
    # A raw syscall number: there is nothing to test on another architecture.
    "test_reserved_signals_ignored_by_caller_are_reset": "x86_64 only",
}


def _skips_must_fail() -> bool:
    return bool(os.environ.get("CI")) and os.geteuid() == 0


class TestTimeout(Exception):
    """Raised inside a test that ran past its time limit."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "timeout(seconds): fail the test when it runs longer than this")


def _limit(item: pytest.Item) -> float:
    marker = item.get_closest_marker("timeout")
    return float(marker.args[0]) if marker and marker.args else DEFAULT_LIMIT


@contextmanager
def _time_limited(item: pytest.Item, phase: str) -> Iterator[None]:
    limit = _limit(item)

    def expired(signum: int, frame: FrameType | None) -> None:
        raise TestTimeout(f"{item.nodeid} ran longer than its limit of {limit:g}s ({phase})")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# Each phase has the limit: a fixture can hang as well as a test (waiting on a process).
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    with _time_limited(item, "setup"):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with _time_limited(item, "call"):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    with _time_limited(item, "teardown"):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not report.skipped or not _skips_must_fail() or hasattr(report, "wasxfail"):
        return
    name = getattr(item, "originalname", item.name)
    if name in ALLOWED_SKIPS:
        return
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    report.outcome = "failed"
    report.longrepr = (f"{item.nodeid} skipped in CI as root ({reason}); a test that can run here must run. "
                       f"If it may skip on any machine, add it to ALLOWED_SKIPS in tests/conftest.py with the reason.")
