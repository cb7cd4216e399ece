"""Progress of long waits: the events the stop schedule sends, and the line the CLI draws."""
import io
import math
import signal

from daemonctl.cli.progress import CLEAR, ProgressLine, describe
from daemonctl.progress import Readying, Stopping, Watching
from daemonctl.schedule import parse_schedule, run

TERM, KILL = signal.SIGTERM, signal.SIGKILL


class Clocked:
    """Processes that never go away, on a fake clock."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def wait_gone(self, timeout: float) -> bool:
        self.now += timeout
        return False


def test_schedule_tells_each_wait_what_comes_next():
    fake, events = Clocked(), []
    assert not run(parse_schedule("TERM/2/KILL/1").told(events.append), lambda sig: None, fake.wait_gone, fake.clock)
    term = [e for e in events if e.signal == TERM]
    kill = [e for e in events if e.signal == KILL]
    assert term[0] == Stopping(TERM, 0.0, KILL, 2.0)
    assert all(e.next_signal == KILL for e in term) and all(e.next_signal is None for e in kill)
    assert math.isclose(term[-1].sent_ago + term[-1].next_in, 2.0)
    assert len(term) >= 4  # every TICK, not once per wait
    assert max(e.sent_ago for e in kill) < 1.0


def test_schedule_without_progress_waits_in_one_piece():
    fake, waits = Clocked(), []

    def wait_gone(timeout: float) -> bool:
        waits.append(timeout)
        return fake.wait_gone(timeout)

    run(parse_schedule("TERM/2/KILL/1"), lambda sig: None, wait_gone)
    assert [w for w in waits if w] == [2, 1]


def test_descriptions():
    assert describe("web", Stopping(TERM, 12.4, KILL, 17.6)) == "waiting for web to exit: TERM sent 12 s ago, KILL in 18 s"
    assert describe("web", Stopping(KILL, 1.0, None, 4.0)) == "waiting for web to exit: KILL sent 1 s ago, giving up in 4 s"
    assert (describe("web", Readying(("a connection to 127.0.0.1 port 8080",), 3.2, 30.0))
            == "waiting for web to be ready: a connection to 127.0.0.1 port 8080, 3 s of 30")
    assert describe("web", Watching(1.5, 2.5)) == "waiting to see web stay up: 1 s of 2.5"


def test_line_is_drawn_in_place_only_when_it_changes_and_cleared():
    out = io.StringIO()
    line = ProgressLine("web", out)
    line(Watching(0.5, 5))  # too soon: nothing yet
    assert out.getvalue() == ""
    line(Watching(1.2, 5))
    line(Watching(1.7, 5))  # the same text: not drawn again
    line(Watching(2.1, 5))
    line.clear()
    assert out.getvalue() == (f"{CLEAR}waiting to see web stay up: 1 s of 5{CLEAR}waiting to see web stay up: 2 s of 5"
                              f"{CLEAR}")
    line.clear()  # nothing shown: nothing to clear
    assert out.getvalue().count(CLEAR) == 3
