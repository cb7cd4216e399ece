"""The restart policy of `start --respawn`, as pure logic: whether and when to restart.

No clock, no processes: the supervisor tells it how a run ended and how long it
lasted, and gets back what to do. Imported by the resident supervisor, so it
stays free of anything heavy.
"""

from daemonctl.speedups import NamedTuple
from daemonctl.states import EXITED, FAILED

ON_FAILURE, ALWAYS = "on-failure", "always"
MODES = (ON_FAILURE, ALWAYS)
RESTART = "restart"  # the decision to start it again; the others end it in a recorded state


class Policy(NamedTuple):
    mode: str = ON_FAILURE
    delay: float = 1.0  # --restart-delay
    delay_max: float = 60.0  # --restart-delay-max
    min_uptime: float = 10.0  # --min-uptime
    max_restarts: int = 10  # --max-restarts; 0: never give up


class Ending(NamedTuple):
    """How a run ended: an exit status, or the number of the signal that killed it; neither when
    its status is unknown (it was reaped elsewhere), which the policy counts as a failure."""

    code: int | None = None
    signal: int | None = None
    oom: bool = False  # the OOM killer ended it (its cgroup's count of OOM kills went up)

    @property
    def failed(self) -> bool:
        return self.signal is not None or self.code != 0

    @property
    def known(self) -> bool:
        return self.signal is not None or self.code is not None

    @classmethod
    def of_wait_status(cls, status: int) -> "Ending":
        import os

        if os.WIFSIGNALED(status):
            return cls(signal=os.WTERMSIG(status))
        return cls(code=os.waitstatus_to_exitcode(status))

    def describe(self) -> str:
        if self.oom:
            return f"killed by signal {self.signal} (out of memory)"
        if self.signal is not None:
            return f"killed by signal {self.signal}"
        if self.code is None:
            return "ended, status unknown"
        return f"exited with status {self.code}"


UNKNOWN_ENDING = Ending()  # our child no more: it ended, and how is not ours to learn


class Backoff(NamedTuple):
    """What the policy remembers between runs."""

    quick_failures: int = 0  # in a row, since the last run that lasted min_uptime
    next_delay: float | None = None  # None: the policy's initial delay


class Decision(NamedTuple):
    action: str  # restart, exited (not to be restarted) or failed (gave up)
    delay: float  # seconds to wait before the restart
    backoff: Backoff  # to pass to the next decide()


def decide(policy: Policy, backoff: Backoff, ending: Ending, uptime: float) -> Decision:
    """What to do after a run of `uptime` seconds ended as `ending`."""
    if policy.mode == ON_FAILURE and not ending.failed:
        return Decision(EXITED, 0.0, backoff)
    if uptime >= policy.min_uptime:
        # A run that lasted resets the backoff: restart after the initial delay.
        return Decision(RESTART, policy.delay, Backoff())
    # A quick run is a failure under `always` whatever its status.
    failures = backoff.quick_failures + 1
    if policy.max_restarts and failures > policy.max_restarts:
        return Decision(FAILED, 0.0, Backoff(failures, backoff.next_delay))
    delay = policy.delay if backoff.next_delay is None else backoff.next_delay
    delay = min(delay, policy.delay_max)
    return Decision(RESTART, delay, Backoff(failures, min(delay * 2, policy.delay_max)))
