import math
import signal

import pytest

from daemonctl.errors import UsageError
from daemonctl.schedule import ScheduleError, Send, Wait, default_schedule, from_options, parse_schedule, run

TERM, HUP, KILL = signal.SIGTERM, signal.SIGHUP, signal.SIGKILL


class FakeDaemon:
    """A process that dies `delay` seconds after receiving one of `fatal` signals; a fake clock."""

    def __init__(self, fatal: set[int], delay: float = 0.1) -> None:
        self.fatal, self.delay = fatal, delay
        self.now = 0.0
        self.dies_at = math.inf
        self.sent: list[tuple[float, int]] = []

    def send(self, sig: int) -> None:
        self.sent.append((self.now, sig))
        if sig in self.fatal:
            self.dies_at = min(self.dies_at, self.now + self.delay)

    def wait_gone(self, timeout: float) -> bool:
        if self.dies_at <= self.now + timeout:
            self.now = max(self.now, self.dies_at)
            return True
        self.now += timeout
        return False


def test_parse_start_stop_daemon_syntax():
    s = parse_schedule("TERM/30/KILL/5")
    assert s.steps == (Send(TERM), Wait(30), Send(KILL), Wait(5)) and s.repeat_from is None
    assert parse_schedule("-15/2.5/SIGkill/1").steps == (Send(TERM), Wait(2.5), Send(KILL), Wait(1))


def test_bare_timeout_means_term_then_kill():
    assert parse_schedule("7").steps == (Send(TERM), Wait(7), Send(KILL), Wait(7))


def test_forever_repeats_the_rest():
    s = parse_schedule("TERM/1/forever/KILL/2")
    steps = s.expand()
    assert [next(steps) for _ in range(6)] == [Send(TERM), Wait(1), Send(KILL), Wait(2), Send(KILL), Wait(2)]
    assert s.total_wait == math.inf


@pytest.mark.parametrize("text", ["", "bogus", "TERM//5", "5/5", "TERM/-99", "TERM/1/forever", "forever/TERM/1/forever/1",
                                  "TERM/nan", "TERM/99999999999", "TERM/1000000.5/KILL/1", "99999999999"])
def test_bad_schedules_are_rejected(text):
    with pytest.raises(ScheduleError):
        parse_schedule(text)


def test_default_is_term_hup_kill():
    assert default_schedule(3).steps == (Send(TERM), Wait(3), Send(HUP), Wait(3), Send(KILL), Wait(3))


def test_returns_as_soon_as_term_works():
    d = FakeDaemon({TERM}, delay=0.2)
    assert run(default_schedule(10), d.send, d.wait_gone)
    assert d.sent == [(0.0, TERM)] and d.now == pytest.approx(0.2)


def test_ignoring_term_gets_hup_after_the_timeout():
    d = FakeDaemon({HUP})
    assert run(default_schedule(10), d.send, d.wait_gone)
    assert d.sent == [(0.0, TERM), (10.0, HUP)]


def test_ignoring_term_and_hup_gets_killed():
    d = FakeDaemon({KILL})
    assert run(default_schedule(4), d.send, d.wait_gone)
    assert [sig for _, sig in d.sent] == [TERM, HUP, KILL] and d.sent[-1][0] == 8.0


def test_schedule_ending_with_the_process_alive_fails():
    d = FakeDaemon(set())
    assert not run(parse_schedule("TERM/1"), d.send, d.wait_gone)
    assert d.sent == [(0.0, TERM)] and d.now == 1.0


def test_already_gone_sends_nothing():
    d = FakeDaemon(set())
    d.dies_at = 0.0
    assert run(default_schedule(10), d.send, d.wait_gone)
    assert d.sent == []


def test_from_options_defaults_to_ten_seconds_and_takes_either_option():
    assert from_options(None, None) == default_schedule(10.0)
    assert from_options(3.0, None) == default_schedule(3.0)
    assert from_options(None, "HUP/2/KILL/1") == parse_schedule("HUP/2/KILL/1")


@pytest.mark.parametrize(("timeout", "text", "message"), [(1.0, "TERM/1", "not both"), (None, "BOGUS/1", "--schedule: ")])
def test_from_options_refuses_both_and_bad_schedules(timeout, text, message):
    with pytest.raises(UsageError, match=message):
        from_options(timeout, text)


def test_forever_repeats_until_the_processes_are_gone():
    d = FakeDaemon(set())
    kills = []

    def send(sig: int) -> None:
        d.send(sig)
        kills.append(sig)
        if len(kills) == 4:
            d.dies_at = d.now  # the fourth KILL is the one that works (a process in D state, say)

    assert run(parse_schedule("TERM/1/forever/KILL/2"), send, d.wait_gone)
    assert d.sent == [(0.0, TERM), (1.0, KILL), (3.0, KILL), (5.0, KILL)]


def test_each_wait_is_told_with_the_signal_sent_and_the_next_one_due():
    d = FakeDaemon({KILL}, delay=0.1)
    events = []
    assert run(parse_schedule("TERM/1/KILL/1").told(events.append), d.send, d.wait_gone, clock=lambda: d.now)
    assert d.sent == [(0.0, TERM), (1.0, KILL)]
    assert [(e.signal, e.sent_ago, e.next_signal, e.next_in) for e in events] == [
        (TERM, 0.0, KILL, 1.0), (TERM, 0.25, KILL, 0.75), (TERM, 0.5, KILL, 0.5), (TERM, 0.75, KILL, 0.25),
        (KILL, 0.0, None, 1.0),  # the last wait: nothing follows it
    ]
    assert d.now == pytest.approx(1.1)
