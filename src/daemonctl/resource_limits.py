"""The values of the resource-limit options: --memory-max, --tasks-max, --cpu-max and --limit.

From the text given on the command line, as the record checks them, and as systemd
spells them. Vocabulary, not machinery: the CLI and the record checks import it, so it
stays plain Python; what enforces the limits is in proc/ (cgroup_limits, containment,
rlimits).
"""

from __future__ import annotations

import math

from daemonctl.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_BYTES = 1 << 60
MAX_TASKS = 1 << 22  # PID_MAX_LIMIT: more processes and threads than the kernel can have
MAX_PERCENT = 100_000.0  # a thousand CPUs
UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}

# setrlimit's resources by --limit's name, each with whether its values are sizes in bytes
# (K, M, G, T allowed). cpu is in seconds; nice is the kernel's ceiling, 0-40 (20 - the lowest
# nice value allowed), as systemd's LimitNICE= takes it unsigned.
RLIMITS: dict[str, bool] = {
    "nofile": False, "nproc": False, "core": True, "as": True, "data": True, "stack": True, "fsize": True,
    "memlock": True, "cpu": False, "rss": True, "msgqueue": True, "nice": False, "rtprio": False, "locks": False,
    "sigpending": False,
}
UNLIMITED_WORDS = ("unlimited", "infinity")
MAX_RLIMIT = 2**63 - 2  # RLIM_INFINITY is 2**64 - 1; any value this large means the same in practice

Rlimits = dict[str, list[int | None]]  # as recorded: resource -> [soft, hard], None = unlimited


def parse_tasks(text: str) -> int:
    raw = text.strip()
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_TASKS:
        raise UsageError(f"--tasks-max takes a whole number from 1 to {MAX_TASKS}, not {text!r}")
    return int(raw)


def parse_percent(text: str) -> float:
    """PERCENT of one CPU (`50`, `250`, `12.5`, an optional `%`); at least 1: the kernel's smallest quota is 1 ms per 100 ms."""
    value = _decimal(text.strip().removesuffix("%"))
    if value is None or not 1 <= value <= MAX_PERCENT:
        raise UsageError(f"--cpu-max takes a percentage of one CPU from 1 to {MAX_PERCENT:g} (50, 250), not {text!r}")
    return int(value) if value == int(value) else value


def _decimal(text: str) -> float | None:
    """A plain decimal number (digits, at most one point); None for anything else (signs, exponents, nan)."""
    if not text or not text.isascii() or text.count(".") > 1 or not text.replace(".", "").isdigit():
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def parse_limit(item: str) -> tuple[str, list[int | None]]:
    """One --limit RESOURCE=SOFT[:HARD]: (resource, [soft, hard]); UsageError naming what is wrong."""
    name, sep, values = item.partition("=")
    name = name.strip().lower()
    if not sep:
        raise UsageError(f"--limit takes RESOURCE=SOFT[:HARD], not {item!r}")
    if name not in RLIMITS:
        raise UsageError(f"--limit: unknown resource {name!r} (one of {', '.join(RLIMITS)})")
    soft_text, colon, hard_text = values.partition(":")
    soft = _rlimit_value(soft_text, name, item)
    hard = _rlimit_value(hard_text, name, item) if colon else soft
    if hard is not None and (soft is None or soft > hard):
        raise UsageError(f"--limit {item}: the soft limit is above the hard limit")
    return name, [soft, hard]


def parse_limits(items: tuple[str, ...] | list[str]) -> Rlimits:
    """Every --limit given; a resource given twice takes the last."""
    found: Rlimits = {}
    for item in items:
        name, pair = parse_limit(item)
        found[name] = pair
    return found


def _rlimit_value(text: str, name: str, item: str) -> int | None:
    raw = text.strip()
    if raw.lower() in UNLIMITED_WORDS:
        return None
    size = RLIMITS[name]
    unit = raw[-1:].upper() if size and raw[-1:].isalpha() else ""
    digits = raw[: len(raw) - len(unit)]
    scale = UNITS.get(unit) if unit else 1
    if scale is None or not (digits.isascii() and digits.isdigit()):
        what = "a number, with K, M, G or T," if size else "a whole number"
        raise UsageError(f"--limit {item}: {name} takes {what} or 'unlimited', not {text!r}")
    value = int(digits) * scale
    if value > MAX_RLIMIT:
        raise UsageError(f"--limit {item}: {text!r} is too large (use 'unlimited')")
    return value


def recorded_check(value: Any) -> str | None:
    """The record's check of --limit's value: {resource: [soft, hard]}, null for unlimited, soft <= hard."""
    if type(value) is not dict:
        return "must be an object of resource limits"
    for name, pair in value.items():
        if name not in RLIMITS:
            return f"names an unknown resource {str(name)[:32]!r}"
        if type(pair) is not list or len(pair) != 2:
            return f"entry {name} must be [soft, hard]"
        if any(v is not None and (type(v) is not int or not 0 <= v <= MAX_RLIMIT) for v in pair):
            return f"entry {name} must hold whole numbers from 0 to {MAX_RLIMIT}, or null"
        soft, hard = pair
        if hard is not None and (soft is None or soft > hard):
            return f"entry {name} has its soft limit above its hard one"
    return None


def systemd_lines(limits: Rlimits) -> list[str]:
    """--limit as systemd's Limit*= lines."""
    return [f"{systemd_key(name)}={systemd_value(pair)}" for name, pair in sorted(limits.items())]


def systemd_value(pair: list[int | None]) -> str:
    """A limit as systemd's Limit*= takes it: SOFT:HARD, or one value when they are equal."""
    soft, hard = ("infinity" if v is None else str(v) for v in pair)
    return soft if soft == hard else f"{soft}:{hard}"


def systemd_key(name: str) -> str:
    return "Limit" + name.upper()


def cpu_quota(percent: float) -> str:
    """--cpu-max as systemd's CPUQuota=."""
    return f"{percent:g}%"
