"""The stop schedule: start-stop-daemon's --retry syntax, and running it.

A schedule is a list of steps: send a signal, or wait up to N seconds for the
processes to be gone. `forever` repeats the steps after it until they are.
"""

# The C module: signal.py builds its IntEnum classes at import, a few milliseconds per run.
import math
import signal
import time
from collections.abc import Callable, Iterator

from daemonctl.errors import UsageError
from daemonctl.limits import MAX_SECONDS
from daemonctl.speedups import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daemonctl.progress import Progress


class ScheduleError(ValueError):
    pass


class Send(NamedTuple):
    signal: int
    kind: str = "send"  # tells Send(15) from Wait(15): tuples compare by value


class Wait(NamedTuple):
    seconds: float
    kind: str = "wait"


class Schedule(NamedTuple):
    steps: tuple[Send | Wait, ...]
    repeat_from: int | None = None  # index of the first step after `forever`
    # Told what each wait waits for (the CLI's line on a terminal); None: nobody.
    progress: "Progress | None" = None

    def told(self, progress: "Progress | None") -> "Schedule":
        return self._replace(progress=progress)

    def expand(self) -> Iterator[Send | Wait]:
        """The steps in the order they run; endless when the schedule has `forever`."""
        yield from self.steps
        if self.repeat_from is None:
            return
        while True:
            yield from self.steps[self.repeat_from :]

    @property
    def total_wait(self) -> float:
        if self.repeat_from is not None:
            return math.inf
        return sum(s.seconds for s in self.steps if isinstance(s, Wait))


def default_schedule(timeout: float) -> Schedule:
    """TERM, then HUP, then KILL, each followed by up to `timeout` seconds."""
    t = Wait(timeout)
    return Schedule((Send(signal.SIGTERM), t, Send(signal.SIGHUP), t, Send(signal.SIGKILL), t))


def parse_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ScheduleError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or not 0 <= value <= MAX_SECONDS:
        raise ScheduleError(f"{text!r} is not a number of seconds from 0 to {MAX_SECONDS}")
    return value


def parse_schedule(text: str) -> Schedule:
    """Parse `TERM/30/KILL/5`; `-9` is a signal number, `30` a timeout, `5` alone TERM/5/KILL/5."""
    items = text.split("/")
    if len(items) == 1 and _is_number(items[0]):
        t = Wait(parse_seconds(items[0]))
        return Schedule((Send(signal.SIGTERM), t, Send(signal.SIGKILL), t))
    steps: list[Send | Wait] = []
    repeat_from = None
    for item in items:
        if item == "forever":
            if repeat_from is not None:
                raise ScheduleError("'forever' may appear only once")
            repeat_from = len(steps)
        elif _is_number(item):
            steps.append(Wait(parse_seconds(item)))
        else:
            steps.append(Send(_parse_item_signal(item)))
    _validate(text, steps, repeat_from)
    return Schedule(tuple(steps), repeat_from)


def _validate(text: str, steps: list[Send | Wait], repeat_from: int | None) -> None:
    if not any(isinstance(s, Send) for s in steps):
        raise ScheduleError(f"schedule {text!r} sends no signal")
    if repeat_from is not None:
        rest = steps[repeat_from:]
        if not any(isinstance(s, Wait) and s.seconds > 0 for s in rest):
            raise ScheduleError(f"schedule {text!r}: the steps after 'forever' must wait")


def _is_number(item: str) -> bool:
    return item.replace(".", "", 1).isdigit()


def _parse_item_signal(item: str) -> int:
    name = item[1:] if item.startswith("-") else item
    if not name:
        raise ScheduleError("empty item in schedule")
    try:
        from daemonctl.signals import parse_signal

        return parse_signal(name)
    except ValueError as err:
        raise ScheduleError(f"schedule item {item!r}: {err}") from None


def run(
    schedule: Schedule,
    send: Callable[[int], None],
    wait_gone: Callable[[float], bool],
    clock: Callable[[], float] = time.monotonic,
) -> bool:
    """Run the schedule; True as soon as the processes are gone, False if the schedule ends first.

    `send(sig)` signals the processes; `wait_gone(seconds)` blocks until they
    are all gone (True) or the seconds pass (False); `wait_gone(0)` just checks.
    With the schedule's `progress`, each wait is told about (a Stopping event) every TICK.
    """
    progress = schedule.progress
    steps = schedule.expand()
    step = next(steps, None)
    sent: tuple[int, float] | None = None  # the last signal, and when
    while step is not None:
        following = next(steps, None)  # one step ahead: the signal a wait leads to
        if wait_gone(0):
            return True
        if isinstance(step, Send):
            send(step.signal)
            sent = (step.signal, clock())
        elif progress is not None and sent is not None:
            next_signal = following.signal if isinstance(following, Send) else None
            if _wait_telling(step.seconds, wait_gone, progress, sent, next_signal, clock):
                return True
        elif wait_gone(step.seconds):
            return True
        step = following
    return wait_gone(0)


def _wait_telling(
    seconds: float,
    wait_gone: Callable[[float], bool],
    progress: "Progress",
    sent: tuple[int, float],
    next_signal: int | None,
    clock: Callable[[], float],
) -> bool:
    from daemonctl.progress import TICK, Stopping

    deadline = clock() + seconds
    while True:
        now = clock()
        progress(Stopping(sent[0], now - sent[1], next_signal, max(deadline - now, 0.0)))
        if wait_gone(min(max(deadline - now, 0.0), TICK)):
            return True
        if clock() >= deadline:
            return False


def from_options(timeout: float | None, text: str | None) -> Schedule:
    """The schedule that -t/--timeout or --schedule asks for (10 s by default); UsageError if both."""
    if timeout is not None and text is not None:
        raise UsageError("give either -t/--timeout or --schedule, not both")
    if text is None:
        return default_schedule(10.0 if timeout is None else timeout)
    try:
        return parse_schedule(text)
    except ScheduleError as err:
        raise UsageError(f"--schedule: {err}") from None
