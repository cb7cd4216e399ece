"""What every export target shares: the respawn and stop settings as a service manager sees them,
and the notes on what a format cannot express.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from typing import Any

from daemonctl.schedule import Schedule, Send, Wait
from daemonctl.start_options import RECORDED, Option
from daemonctl.store.record import StartSpec


@dataclass(frozen=True)
class Respawn:
    """The --respawn settings of a spec (mode None: not supervised)."""

    mode: str | None
    delay: float
    delay_max: float
    min_uptime: float
    max_restarts: int

    @classmethod
    def of(cls, spec: StartSpec) -> Respawn:
        return cls(
            mode=spec.respawn if spec.respawn in ("on-failure", "always") else None,
            delay=float(spec.restart_delay),
            delay_max=float(spec.restart_delay_max),
            min_uptime=float(spec.min_uptime),
            max_restarts=int(spec.max_restarts),
        )

    def give_up_window(self) -> float:
        """Seconds in which max_restarts+1 quick failures fit, delays included."""
        # The delays double up to delay_max and stay there: sum the doubling steps, then the
        # capped rest at once (max_restarts may be 2**31-1; 2**i past ~1030 overflows a float).
        delays, step, left = 0.0, self.delay, self.max_restarts
        while left and 0 < step < self.delay_max:
            delays, step, left = delays + step, step * 2, left - 1
        if step > 0:
            delays += left * self.delay_max
        return (self.max_restarts + 1) * self.min_uptime + delays


@dataclass(frozen=True)
class StopPlan:
    """What a stop schedule becomes in a service manager: a first signal, then KILL."""

    signal: int
    timeout: float  # seconds between the first signal and the KILL (inf: wait forever)
    lost: list[int]  # signals in between, which the service managers cannot send

    @classmethod
    def of(cls, schedule: Schedule) -> StopPlan:
        sends = [s.signal for s in schedule.steps if isinstance(s, Send)]
        first = sends[0]
        timeout = 0.0
        for step in schedule.steps[1:]:
            if isinstance(step, Send) and step.signal == signal.SIGKILL:
                break
            if isinstance(step, Wait):
                timeout += step.seconds
        if schedule.repeat_from is not None:
            timeout = float("inf")
        lost = [s for s in sends[1:] if s != signal.SIGKILL]
        return cls(first, timeout, lost)


class Notes:
    """What a format cannot express: a comment in the output and a line on stderr."""

    def __init__(self, comment: str) -> None:
        self.comment = comment
        self.lines: list[str] = []

    def cannot(self, what: str) -> list[str]:
        self.lines.append(what)
        return [f"{self.comment} not exported: {what}"]


def seconds(value: float) -> str:
    return "infinity" if value == float("inf") else f"{value:g}"


def readiness(spec: StartSpec, notify_ok: bool) -> list[tuple[str, str]]:
    """The readiness options of spec that a manager without those checks drops."""
    checks = [("--ready-file", spec.ready_file), ("--ready-port", spec.ready_port), ("--ready-log", spec.ready_log)]
    if not notify_ok and spec.notify:
        checks.append(("--notify", "READY=1"))
    return [(option, str(value)) for option, value in checks if value]

def caller_env_comment(spec: StartSpec, mark: str) -> list[str]:
    # Deliberate, hence no warning: a service manager gives its programs a clean environment,
    # and the shell's that daemonctl recorded (its PATH, its secrets) should not go in a unit.
    if not spec.caller_env:
        return []
    return [f"{mark} only --env and --env-file: not the environment daemonctl recorded from its caller"]

def user_group(spec: StartSpec) -> tuple[str | None, str | None]:
    """--user USER[:GROUP] and --group GROUP as a user and a group."""
    if spec.user is None:
        return None, spec.group
    user, _, group = spec.user.partition(":")
    return user, group or spec.group


def declared(spec: StartSpec, target: str) -> list[str]:
    """The lines of the options whose export to `target` is declared (start_options.py), in their order."""
    return [line for option in RECORDED if target in option.export
            for line in option.export[target](getattr(spec, option.name))]


def undeclared(spec: StartSpec, target: str, by_hand: frozenset[str], manager: str, notes: Notes) -> list[str]:
    """A note for each option set away from its default that `target` neither declares nor
    writes by hand (`by_hand`): a new option is never dropped without a word."""
    lines = []
    for option in RECORDED:
        if target in option.export or option.name in by_hand:
            continue
        value = getattr(spec, option.name)
        if value != option.default:
            lines += notes.cannot(f"{as_given(option, value)}: {manager} has no equivalent")
    return lines


def as_given(option: Option, value: Any) -> str:
    """The option and its value as they are written on start's command line."""
    shown = option.to_json(value)
    if shown is True:
        return option.flag
    if isinstance(shown, dict):  # a repeatable KEY=VALUE option: the flag once per entry
        return " ".join(f"{option.flag} {key}={_item(item)}" for key, item in shown.items())
    return f"{option.flag} {shown}"


def _item(value: Any) -> str:
    if isinstance(value, list):  # SOFT:HARD, None for unlimited
        return ":".join("unlimited" if part is None else str(part) for part in value)
    return str(value)

