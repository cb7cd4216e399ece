"""Restart policy and backoff as pure logic: no clock, no processes."""

import signal

from daemonctl.states import EXITED, FAILED
from daemonctl.supervise.policy import ALWAYS, ON_FAILURE, RESTART, Backoff, Ending, Policy, decide

FAIL, OK, KILLED = Ending(code=1), Ending(code=0), Ending(signal=signal.SIGKILL)
QUICK, LONG = 0.5, 100.0


def run_quick_failures(policy, n, ending=FAIL):
    backoff, decisions = Backoff(), []
    for _ in range(n):
        d = decide(policy, backoff, ending, QUICK)
        decisions.append(d)
        backoff = d.backoff
    return decisions


def test_exit_0_under_on_failure_is_not_restarted():
    assert decide(Policy(ON_FAILURE), Backoff(), OK, LONG).action == EXITED
    assert decide(Policy(ON_FAILURE), Backoff(), OK, QUICK).action == EXITED


def test_non_zero_and_signals_are_failures():
    assert decide(Policy(ON_FAILURE), Backoff(), FAIL, LONG).action == RESTART
    assert decide(Policy(ON_FAILURE), Backoff(), KILLED, LONG).action == RESTART
    assert KILLED.failed and FAIL.failed and not OK.failed


def test_always_restarts_exit_0_and_counts_quick_exit_0_as_failure():
    d = decide(Policy(ALWAYS), Backoff(), OK, QUICK)
    assert d.action == RESTART and d.backoff.quick_failures == 1
    assert decide(Policy(ALWAYS), Backoff(), OK, LONG).backoff.quick_failures == 0


def test_delay_doubles_after_each_quick_failure_up_to_the_cap():
    policy = Policy(ON_FAILURE, delay=1, delay_max=5, max_restarts=0)
    assert [d.delay for d in run_quick_failures(policy, 6)] == [1, 2, 4, 5, 5, 5]


def test_gives_up_when_the_run_after_the_nth_quick_restart_fails_quickly():
    decisions = run_quick_failures(Policy(ON_FAILURE, delay=0, max_restarts=3), 4)
    assert [d.action for d in decisions] == [RESTART, RESTART, RESTART, FAILED]


def test_max_restarts_0_never_gives_up():
    decisions = run_quick_failures(Policy(ON_FAILURE, delay=0, max_restarts=0), 50)
    assert {d.action for d in decisions} == {RESTART}


def test_a_long_run_resets_delay_and_count():
    policy = Policy(ON_FAILURE, delay=1, delay_max=60, min_uptime=10, max_restarts=3)
    backoff = run_quick_failures(policy, 3)[-1].backoff
    assert backoff.quick_failures == 3 and backoff.next_delay == 8
    d = decide(policy, backoff, FAIL, 10.0)  # exactly min_uptime counts as long enough
    assert d.action == RESTART and d.delay == 1 and d.backoff == Backoff()
    assert decide(policy, d.backoff, FAIL, QUICK).delay == 1


def test_ending_from_wait_status():
    import os

    assert Ending.of_wait_status(0) == OK
    assert Ending.of_wait_status(3 << 8) == Ending(code=3)
    assert Ending.of_wait_status(signal.SIGKILL) == KILLED
    assert "signal 9" in KILLED.describe() and os.WIFSIGNALED(signal.SIGKILL)
