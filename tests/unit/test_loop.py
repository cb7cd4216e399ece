"""The supervisor's loop (supervise/loop.py), with children faked by pytest-subprocess and a fake clock.

No test sleeps through a real delay: `sleep` only advances the fake clock.
"""

import signal
import subprocess
import threading
from contextlib import nullcontext

import pytest

from daemonctl.states import LOST
from daemonctl.supervise.loop import NoChild, Supervisor
from daemonctl.supervise.policy import Ending, Policy

PROG = ["prog"]


class Clock:
    def __init__(self):
        self.now = 1000.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


class PopenChild:
    """A Child over a (fake) Popen: returncode < 0 means killed by that signal."""

    def __init__(self, popen, clock, runs_for):
        self.popen, self.clock, self.runs_for = popen, clock, runs_for
        self.pid = popen.pid or 4242

    def wait(self):
        code = self.popen.wait()
        self.clock.now += self.runs_for
        return Ending(signal=-code) if code < 0 else Ending(code=code)

    def signal(self, sig, group=False):
        self.popen.send_signal(sig)


class Recorder:
    def __init__(self, mine=True):
        self.events, self.mine = [], mine

    def locked(self):
        return nullcontext()

    def started(self, child, restarts):
        self.events.append(("started", restarts))
        return self.mine

    def ended(self, ending):
        self.events.append(("ended", ending))
        return True

    def finish(self, state, ending):
        self.events.append((state, ending))


def make(fp, policy, runs_for=0.1, recorder=None):
    clock = Clock()
    children = []

    def start():
        child = PopenChild(subprocess.Popen(PROG), clock, runs_for)
        children.append(child)
        return child

    sup = Supervisor(start, policy, recorder or Recorder(), clock=clock, sleep=clock.sleep)
    return sup, start, clock, children


def test_exit_1_is_restarted_until_the_policy_gives_up(fp):
    fp.register(PROG, returncode=1, occurrences=10)
    policy = Policy("on-failure", delay=1, delay_max=3, min_uptime=10, max_restarts=3)
    sup, start, clock, _ = make(fp, policy)
    assert sup.run(start()) == "failed"
    assert clock.slept == [1, 2, 3]
    assert sup.restarts == 3 and fp.call_count(PROG) == 4
    assert sup.recorder.events[-1] == ("failed", Ending(code=1))
    assert [e[1] for e in sup.recorder.events if e[0] == "started"] == [1, 2, 3]


def test_exit_0_under_on_failure_ends_exited_without_restart(fp):
    fp.register(PROG, returncode=0)
    sup, start, clock, _ = make(fp, Policy("on-failure"))
    assert sup.run(start()) == "exited"
    assert clock.slept == [] and fp.call_count(PROG) == 1
    assert sup.recorder.events == [("exited", Ending(code=0))]


def test_killed_child_is_restarted_and_a_long_run_resets_the_delay(fp):
    fp.register(PROG, returncode=-signal.SIGKILL, occurrences=3)
    fp.register(PROG, returncode=0)
    policy = Policy("on-failure", delay=2, delay_max=60, min_uptime=10, max_restarts=10)
    sup, start, clock, _ = make(fp, policy, runs_for=50.0)  # every run is long
    assert sup.run(start()) == "exited"
    assert clock.slept == [2, 2, 2]
    assert ("ended", Ending(signal=signal.SIGKILL)) in sup.recorder.events


def test_always_restarts_exit_0(fp):
    fp.register(PROG, returncode=0, occurrences=3)
    sup, start, clock, _ = make(fp, Policy("always", delay=0.5, max_restarts=2))
    assert sup.run(start()) == "failed"
    assert fp.call_count(PROG) == 3 and clock.slept == [0.5, 1.0]


def never_ends(process):
    process.ended = threading.Event()
    process.ended.wait(timeout=30)


def ends_on_signal(process, sig):
    process.returncode = -sig
    process.ended.set()


def test_stop_request_ends_a_never_ending_child_and_nothing_restarts(fp):
    fp.register(PROG, callback=never_ends, signal_callback=ends_on_signal)
    sup, start, clock, children = make(fp, Policy("always"))
    first = start()
    timer = threading.Timer(0.05, sup.request_stop)
    timer.start()
    try:
        assert sup.run(first) == "stopped"
    finally:
        timer.cancel()
    assert first.popen.received_signals() == (signal.SIGTERM,)
    assert fp.call_count(PROG) == 1 and clock.slept == []
    assert sup.recorder.events == [("stopped", Ending(signal=signal.SIGTERM))]


def test_stop_during_the_restart_delay_starts_nothing(fp):
    fp.register(PROG, returncode=1)
    sup, start, clock, _ = make(fp, Policy("on-failure", delay=5))
    sup.sleep = lambda seconds: sup.request_stop()
    assert sup.run(start()) == "stopped"
    assert fp.call_count(PROG) == 1


def test_forwarded_signals_reach_the_child(fp):
    fp.register(PROG, callback=never_ends, signal_callback=ends_on_signal)
    fp.register(PROG, returncode=0)
    sup, start, clock, _ = make(fp, Policy("on-failure", delay=3))
    first = start()
    threading.Timer(0.05, sup.forward, args=(signal.SIGHUP,)).start()
    # HUP kills the first child (a failure: restarted); the second exits 0.
    assert sup.run(first) == "exited"
    assert first.popen.received_signals() == (signal.SIGHUP,)
    assert clock.slept == [3] and sup.restarts == 1


@pytest.mark.parametrize("error", [OSError(2, "No such file or directory"), KeyError("getpwnam(): name not found")],
                         ids=["exec-failed", "anything-else"])
def test_a_restart_that_raises_is_a_quick_failure(fp, error):
    """No exception of a starter ends the supervision (an exec that fails, a user gone from the password database)."""
    fp.register(PROG, returncode=1)
    clock = Clock()
    calls = []

    def start():
        calls.append(1)
        if len(calls) == 1:
            return PopenChild(subprocess.Popen(PROG), clock, 0.1)
        raise error

    recorder = Recorder()
    sup = Supervisor(start, Policy("on-failure", delay=1, max_restarts=2), recorder, clock=clock, sleep=clock.sleep)
    assert sup.run(start()) == "failed"
    assert len(calls) == 3 and clock.slept == [1, 2]
    assert recorder.events[-1] == ("failed", Ending(code=127))
    assert NoChild().wait() == Ending(code=127)


def test_a_record_that_is_no_longer_ours_ends_the_supervisor(fp):
    fp.register(PROG, returncode=1)
    fp.register(PROG, callback=never_ends, signal_callback=ends_on_signal)
    sup, start, _, children = make(fp, Policy("on-failure", delay=0), recorder=Recorder(mine=False))
    assert sup.run(start()) == LOST
    assert children[1].popen.received_signals() == (signal.SIGKILL,)


class DetachingLock:
    """A record lock held by `stop` at the moment it detaches the supervisor: the detach lands while we wait for it."""

    def __init__(self, sup_holder, recorder):
        self.sup_holder, self.recorder = sup_holder, recorder
        self.armed = True

    def __enter__(self):
        if self.armed:
            self.armed = False
            self.sup_holder[0].detach()

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("at", ["ended", "restart"])
def test_a_detached_supervisor_restarts_nothing_and_leaves_the_record_to_stop(fp, at):
    fp.register(PROG, returncode=1, occurrences=2)
    holder = []
    recorder = Recorder()
    lock = DetachingLock(holder, recorder)
    sup, start, clock, _ = make(fp, Policy("on-failure", delay=1), recorder=recorder)
    holder.append(sup)
    if at == "restart":
        calls = iter([nullcontext(), lock])  # the end is recorded; the detach comes with the restart's lock
        recorder.locked = lambda: next(calls)
    else:
        recorder.locked = lambda: lock
    assert sup.run(start()) == "detached"
    assert fp.call_count(PROG) == 1  # never restarted
    assert [e for e in recorder.events if e[0] != "ended"] == []  # nothing finished or started in the record
    assert recorder.events == ([("ended", Ending(code=1))] if at == "restart" else [])


def test_a_detached_supervisor_waits_for_its_program_and_signals_nothing(fp):
    fp.register(PROG, callback=never_ends, signal_callback=ends_on_signal)
    sup, start, clock, _ = make(fp, Policy("always"))
    first = start()
    sup.detach()
    threading.Timer(0.05, ends_on_signal, args=(first.popen, signal.SIGTERM)).start()  # stop's schedule ends it
    first.signal = lambda sig, group=False: pytest.fail("a detached supervisor signalled its program")
    # `stop` holds the lock until the supervisor is done writing: taking it now would wait for stop forever.
    sup.recorder.locked = lambda: pytest.fail("a detached supervisor waited for the lock stop holds")
    assert sup.run(first) == "detached"
    assert sup.recorder.events == []


# An error nothing expects (from the record, the cgroup, the log...) ends the supervision as the
# policy gives up: the program's group killed, `failed` recorded, one line in the log; never a traceback.

class Broken:
    """A child whose wait raises the first `fails` times (as a cgroup that cannot be read would)."""

    def __init__(self, fails=1, pid=4343):
        self.pid, self.fails, self.signals = pid, fails, []

    def wait(self):
        if self.fails:
            self.fails -= 1
            raise OSError(5, "Input/output error", "/sys/fs/cgroup/s/program/cgroup.events")
        return Ending(signal=9)

    def signal(self, sig, group=False):
        self.signals.append((sig, group))


class Raising(Recorder):
    def __init__(self, **raises):
        super().__init__()
        self.raises = raises

    def started(self, child, restarts):
        if "started" in self.raises:
            raise self.raises["started"]
        return super().started(child, restarts)

    def ended(self, ending):
        if "ended" in self.raises:
            raise self.raises["ended"]
        return super().ended(ending)

    def finish(self, state, ending):
        if "finish" in self.raises:
            raise self.raises["finish"]
        super().finish(state, ending)


def test_a_wait_that_raises_gives_the_program_up_not_the_supervisor_with_a_traceback():
    said, recorder, child = [], Recorder(), Broken()
    sup = Supervisor(lambda: pytest.fail("restarted"), Policy("always"), recorder, say=said.append)
    assert sup.run(child) == "failed"
    assert child.signals == [(signal.SIGKILL, True)] and recorder.events == [("failed", None)]
    assert said == ["daemonctl: supervisor: giving up: Input/output error "
                    "(/sys/fs/cgroup/s/program/cgroup.events); its program's group is killed"]


def test_an_end_that_cannot_be_recorded_gives_the_program_up(fp):
    fp.register(PROG, returncode=1)
    said, clock = [], Clock()
    recorder = Raising(ended=RuntimeError("unexpected"))
    sup = Supervisor(lambda: pytest.fail("restarted"), Policy("on-failure"), recorder, clock=clock, sleep=clock.sleep,
                     say=said.append)
    assert sup.run(PopenChild(subprocess.Popen(PROG), clock, 0.1)) == "failed"
    assert recorder.events == [("failed", None)]
    assert said == ["daemonctl: supervisor: giving up: RuntimeError: unexpected"]  # it had ended: nothing killed


def test_a_restart_whose_record_raises_is_killed_and_given_up(fp):
    fp.register(PROG, returncode=1)
    said, clock, restarted = [], Clock(), []
    recorder = Raising(started=OSError(28, "No space left on device"))

    def start():
        restarted.append(Broken(fails=0, pid=4444))
        return restarted[-1]

    sup = Supervisor(start, Policy("on-failure", delay=1), recorder, clock=clock, sleep=clock.sleep, say=said.append)
    assert sup.run(PopenChild(subprocess.Popen(PROG), clock, 0.1)) == "failed"
    assert restarted[0].signals == [(signal.SIGKILL, True)]  # never left running, unrecorded
    assert recorder.events[-1] == ("failed", None)
    assert said == ["daemonctl: supervisor: giving up: No space left on device; its program's group is killed"]


def test_a_supervisor_that_cannot_even_record_its_giving_up_ends_all_the_same():
    said, child = [], Broken(fails=2)  # its wait fails again as it is killed
    recorder = Raising(finish=OSError(5, "Input/output error"))
    sup = Supervisor(lambda: pytest.fail("restarted"), Policy("always"), recorder, say=said.append)
    assert sup.run(child) == "failed"
    assert child.signals == [(signal.SIGKILL, True)] and len(said) == 1
