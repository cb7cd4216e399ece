"""The supervisor's loop for `start --respawn`: wait for the program, restart it by the policy.

Children, clock, sleep and record all come from outside, so the loop is tested
without real processes or delays; `daemonctl.supervise.resident` wires in the real ones.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from daemonctl.speedups import Protocol
from daemonctl.states import DETACHED, FAILED, LOST, STOPPED
from daemonctl.supervise.policy import RESTART, Backoff, Ending, Policy, decide

SPAWN_FAILED = Ending(code=127)  # a restart whose exec failed counts as a quick failure


class Child(Protocol):
    pid: int

    def wait(self) -> Ending: ...

    def signal(self, sig: int, group: bool = False) -> None: ...


class Recorder(Protocol):
    """Keeps the record; every method is called with `locked()` held."""

    def locked(self) -> AbstractContextManager[object]: ...

    def started(self, child: Child, restarts: int) -> bool: ...  # False: not ours any more

    def ended(self, ending: Ending) -> bool: ...

    def finish(self, state: str, ending: Ending | None) -> None: ...


class NoChild:
    """A restart that could not even exec: it ends at once."""

    pid = 0

    def wait(self) -> Ending:
        return SPAWN_FAILED

    def signal(self, sig: int, group: bool = False) -> None:
        pass


def why(err: Exception) -> str:
    """An error nothing expected, in words for the daemon's log."""
    if isinstance(err, OSError) and err.strerror:
        return f"{err.strerror}{f' ({err.filename})' if err.filename else ''}"
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


def _nowhere(line: str) -> None:
    pass


class Supervisor:
    def __init__(
        self,
        start: Callable[[], Child],
        policy: Policy,
        recorder: Recorder,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        say: Callable[[str], None] = _nowhere,
    ) -> None:
        self.start, self.policy, self.recorder = start, policy, recorder
        self.clock, self.sleep = clock, sleep
        self.say = say  # one line of ours in the daemon's log
        self.stopping = False
        self.detached = False
        self.child: Child | None = None
        self.pending: Child | None = None  # a restart being recorded
        self.restarts = 0

    def request_stop(self) -> None:
        """SIGTERM to the supervisor: end the program's group, restart nothing."""
        self.stopping = True
        if self.child is not None:
            self.child.signal(signal.SIGTERM, group=True)

    def detach(self) -> None:
        """`stop` of a supervisor that writes the logs: restart nothing, leave the record and the
        program to `stop` (it holds the lock meanwhile), and end once the program has."""
        self.detached = self.stopping = True

    def _is_detached(self) -> bool:
        # A call, not an attribute read: the handler of a signal that arrived while we waited
        # for the lock runs at the latest as this function's frame starts.
        return self.detached

    def forward(self, sig: int) -> None:
        if self.child is not None:
            self.child.signal(sig)

    def run(self, child: Child) -> str:
        """Supervise `child` and its successors; the final state (exited, failed, stopped, lost).

        An error nothing expected (from the record, the cgroup, the log...) ends the supervision
        as the policy gives up: the program's group killed, `failed` recorded, why in the log.
        """
        try:
            return self._supervise(child)
        except Exception as err:
            return self._give_up(err)

    def _supervise(self, child: Child) -> str:
        backoff = Backoff()
        while True:
            began = self.clock()
            self.child = child
            if self.stopping and not self.detached:
                child.signal(signal.SIGTERM, group=True)
            ending = child.wait()
            self.child = None
            uptime = self.clock() - began
            if self.stopping:
                return self._finish(STOPPED, ending)
            decision = decide(self.policy, backoff, ending, uptime)
            backoff = decision.backoff
            if decision.action != RESTART:
                return self._finish(decision.action, ending)
            with self.recorder.locked():
                if self._is_detached():
                    return DETACHED
                if not self.recorder.ended(ending):
                    return LOST
            self.sleep(decision.delay)
            if self.stopping:
                return self._finish(STOPPED, None)
            next_child = self._restart()
            if next_child is None:
                return DETACHED if self.detached else LOST
            child = next_child

    def _restart(self) -> Child | None:
        # Under the lock: a `stop` either sees the new program in the record or runs first.
        with self.recorder.locked():
            if self._is_detached():
                return None
            try:
                child = self.start()
            except Exception:
                # Whatever went wrong (the starter says what), the program does not run: a
                # failed start for the policy, never the end of the supervision.
                child = NoChild()
            self.restarts += 1
            self.pending = child  # not yet the one a stop signals; a failure from here on ends it
            if self.recorder.started(child, self.restarts):
                self.pending = None
                return child
        child.signal(signal.SIGKILL, group=True)
        child.wait()
        self.pending = None
        return None

    def _give_up(self, err: Exception) -> str:
        child, self.child, self.pending = self.child or self.pending, None, None
        killed = "; its program's group is killed" if child is not None else ""
        self.say(f"daemonctl: supervisor: giving up: {why(err)}{killed}")
        if child is not None:
            child.signal(signal.SIGKILL, group=True)
            try:
                child.wait()
            except Exception:  # the supervisor ends now: its end reaps what is left
                pass
        try:
            return self._finish(FAILED, None)
        except Exception:  # not even that can be recorded
            return FAILED

    def _finish(self, state: str, ending: Ending | None) -> str:
        if self._is_detached():
            return DETACHED  # `stop` holds the lock and writes the record itself: never wait for it
        with self.recorder.locked():
            if self._is_detached():
                return DETACHED
            self.recorder.finish(state, ending)
        return state

