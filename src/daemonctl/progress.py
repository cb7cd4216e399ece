"""What a long wait is waiting for, as plain data that the CLI may render.

The waits (the stop schedule, readiness, --wait) call a `Progress` callback with
one of these events every TICK seconds or so while they wait; they know nothing
of terminals or words. Without a callback they wait as before, in one piece.
"""

from collections.abc import Callable

from daemonctl.speedups import NamedTuple

TICK = 0.25  # seconds between two events of one wait


class Stopping(NamedTuple):
    """The stop schedule waits for the processes to be gone after sending `signal`."""

    signal: int
    sent_ago: float  # seconds since it was sent
    next_signal: int | None  # sent when this wait runs out; None: the schedule ends then
    next_in: float  # seconds left of this wait


class Readying(NamedTuple):
    """start waits for the readiness checks that have not passed yet."""

    awaited: tuple[str, ...]  # what each pending check waits for (its `what`)
    elapsed: float
    timeout: float  # may grow (sd_notify's EXTEND_TIMEOUT_USEC)


class Watching(NamedTuple):
    """start --wait: the program must stay up this long."""

    elapsed: float
    total: float


Event = Stopping | Readying | Watching
Progress = Callable[[Event], None]
