"""One supervisor for a set of instances (`start --respawn --instances N`), as tornado's
fork_processes: each instance restarted by the policy under its own number, with its own
backoff and restart count, in one process.

The loop never blocks on one instance: it is stepped whenever something may have
happened (a child ended, a timer is due, a request came) and says how long it may sleep.
Each instance's record is written under that instance's lock, taken without waiting: a
`stop NAME@i` holding it (and releasing the instance from this supervisor) only delays
that instance, never the others. Children, clock and records come from outside
(supervise/pool_resident.py wires in the real ones), so this is tested without processes.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from contextlib import AbstractContextManager

from daemonctl.speedups import Protocol
from daemonctl.states import FAILED, LOST, STOPPED
from daemonctl.supervise.loop import SPAWN_FAILED, why
from daemonctl.supervise.policy import RESTART, Backoff, Ending, Policy, decide

RETRY = 0.02  # seconds before trying again an instance's lock another command holds
IDLE_GRACE = 30.0  # a supervisor given no instance within this time ends


class PoolChild(Protocol):
    pid: int

    def poll(self) -> Ending | None: ...  # None while it runs; once ended, reaped, how it ended

    def wait(self) -> Ending: ...  # until it ends, reaped

    def signal(self, sig: int, group: bool = False) -> None: ...

    def kill(self) -> None: ...  # given up: KILL its group and reap it, whatever else fails


class PoolRecorder(Protocol):
    """Keeps one instance's record; every method but try_locked is called with the lock held."""

    def try_locked(self) -> AbstractContextManager[bool]: ...

    def started(self, child: PoolChild, restarts: int) -> bool: ...  # False: not ours any more

    def ended(self, ending: Ending) -> bool: ...

    def finish(self, state: str, ending: Ending | None) -> None: ...


class FailedStart:
    """A restart that could not even exec: it has ended already."""

    pid = 0

    def poll(self) -> Ending | None:
        return SPAWN_FAILED

    def wait(self) -> Ending:
        return SPAWN_FAILED

    def signal(self, sig: int, group: bool = False) -> None:
        pass

    def kill(self) -> None:
        pass


def _nowhere(line: str) -> None:
    pass


class Member:
    """One instance under the supervisor: its program, its policy state and its record."""

    def __init__(self, number: int, child: PoolChild, start: Callable[[], PoolChild], policy: Policy,
                 recorder: PoolRecorder, now: float, say: Callable[[str], None] = _nowhere) -> None:
        self.number, self.start, self.policy, self.recorder = number, start, policy, recorder
        self.say = say  # one line of the supervisor's in this instance's log
        self.child: PoolChild | None = None
        self._unstopped: list[PoolChild] = []  # its program, until a stop request's TERM has reached it
        self.runs(child)
        self.began = now
        self.backoff = Backoff()
        self.restarts = 0
        self.ending: Ending | None = None  # ended, not yet dealt with
        self.uptime = 0.0
        self.due: float | None = None  # when to start it again
        self.result: str | None = None  # how its supervision ended, once it has
        self.given_up = False  # dealing with it failed: it is being recorded as failed

    def runs(self, child: PoolChild | None) -> None:
        """`child` is its program from now on (None: none runs)."""
        self._unstopped = [] if child is None else [child]
        self.child = child

    def stop(self) -> None:
        """A stop request (the SIGTERM handler): TERM to its program's group."""
        try:
            child: PoolChild | None = self._unstopped.pop()
        except IndexError:
            child = self.child
        if child is not None:
            child.signal(signal.SIGTERM, group=True)

    def stop_unstopped(self) -> None:
        """TERM to its program's group unless a stop request's TERM reached it already: for a
        program started as the request came, which request_stop did not see. The handler may run
        in the middle of this; list.pop is one step it cannot come into: the program gets one TERM."""
        try:
            child = self._unstopped.pop()
        except IndexError:
            return
        child.signal(signal.SIGTERM, group=True)


class Pool:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.members: list[Member] = []
        self.stopping = False
        self.created = clock()
        self.adopted = False

    def adopt(self, member: Member) -> None:
        self.members.append(member)
        self.adopted = True
        if self.stopping:
            member.stop_unstopped()

    def request_stop(self) -> None:
        """SIGTERM to the supervisor: end every program's group, restart nothing."""
        self.stopping = True
        for member in self.members:
            member.stop()

    def forward(self, sig: int) -> None:
        """A signal sent to the supervisor goes to every program (their leaders)."""
        for member in self.members:
            if member.child is not None:
                member.child.signal(sig)

    @property
    def done(self) -> bool:
        """Nothing left to supervise: the supervisor may end."""
        if self.members:
            return False
        return self.adopted or self.stopping or self.clock() - self.created >= IDLE_GRACE

    def step(self) -> float | None:
        """Deal with what happened; the seconds until the next thing is due (None: only an event)."""
        now = self.clock()
        wait: float | None = None if self.adopted else max(self.created + IDLE_GRACE - now, 0.0)
        for member in list(self.members):
            try:
                retry = self._step(member, now)
            except Exception as err:  # whatever it is, only this instance pays for it
                retry = self._give_up(member, err)
            if member.result is not None:
                self.members.remove(member)
            elif retry is not None:
                wait = retry if wait is None else min(wait, retry)
        return wait

    def _step(self, member: Member, now: float) -> float | None:
        if member.given_up:
            return None if self._finish(member, FAILED, member.ending) else RETRY
        if member.child is not None:
            ending = member.child.poll()
            if ending is None:
                return None
            member.runs(None)
            member.ending, member.uptime = ending, now - member.began
        if member.ending is not None:
            if not self._ended(member, now):
                return RETRY
        if member.due is not None:
            if self.stopping:
                return RETRY if not self._finish(member, STOPPED, None) else None
            if now < member.due:
                return member.due - now
            if not self._restart(member, now):
                return RETRY
        return None

    def _ended(self, member: Member, now: float) -> bool:
        """Record the end and decide; False if the instance's lock is busy (try again)."""
        ending = member.ending
        assert ending is not None
        if self.stopping:
            return self._finish(member, STOPPED, ending)
        decision = decide(member.policy, member.backoff, ending, member.uptime)
        if decision.action != RESTART:
            return self._finish(member, decision.action, ending)
        with member.recorder.try_locked() as got:
            if not got:
                return False
            if not member.recorder.ended(ending):
                member.result = LOST  # released (stop NAME@i) or replaced: not ours to restart
                return True
        member.ending, member.backoff, member.due = None, decision.backoff, now + decision.delay
        return True

    def _restart(self, member: Member, now: float) -> bool:
        with member.recorder.try_locked() as got:
            if not got:
                return False
            try:
                child = member.start()
            except Exception:
                child = FailedStart()  # the starter said why; a quick failure for the policy
            member.restarts += 1
            member.began, member.due = now, None
            member.runs(child)  # a failure from here on ends it
            if self.stopping:
                member.stop_unstopped()  # the TERM came as it was being started: request_stop found none to end
            if member.recorder.started(child, member.restarts):
                return True
        child.signal(signal.SIGKILL, group=True)
        child.wait()
        member.runs(None)
        member.result = LOST
        return True

    def _give_up(self, member: Member, err: Exception) -> float | None:
        """Checking or restarting this instance raised: give it up alone, as the policy gives up
        (its program ended, `failed` recorded), with why in its log; the others go on."""
        if not member.given_up:
            member.given_up = True
            killed = "; its program's group is killed" if member.child is not None else ""
            member.say(f"daemonctl: supervisor: giving up instance {member.number}: {why(err)}{killed}")
        child, member.due = member.child, None
        member.runs(None)
        if child is not None:
            try:
                child.kill()
            except Exception:  # it did what it could
                pass
        try:
            return None if self._finish(member, FAILED, member.ending) else RETRY
        except Exception:  # not even that can be recorded: let it go
            member.result = FAILED
            return None

    def _finish(self, member: Member, state: str, ending: Ending | None) -> bool:
        with member.recorder.try_locked() as got:
            if not got:
                return False
            member.recorder.finish(state, ending)
        member.result = state
        return True


def address(pid: int, starttime: int) -> bytes:
    """The abstract unix socket of the set's supervisor with this identity (pool_resident.Listener)."""
    return f"\0daemonctl-pool-{pid}-{starttime}".encode()
