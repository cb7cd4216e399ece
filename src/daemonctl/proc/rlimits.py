"""--limit RESOURCE=SOFT[:HARD]: the program's resource limits (setrlimit in the grandchild, before its exec).

Recorded as {resource: [soft, hard]}, None for unlimited; HARD defaults to SOFT,
as systemd's Limit*= does.
"""

from __future__ import annotations

import resource as _resource

from daemonctl.errors import UsageError

# The resources by name, with whether their values are sizes in bytes (K, M, G, T allowed).
RESOURCES: dict[str, tuple[int, bool]] = {
    "nofile": (_resource.RLIMIT_NOFILE, False),
    "nproc": (_resource.RLIMIT_NPROC, False),
    "core": (_resource.RLIMIT_CORE, True),
    "as": (_resource.RLIMIT_AS, True),
    "data": (_resource.RLIMIT_DATA, True),
    "stack": (_resource.RLIMIT_STACK, True),
    "fsize": (_resource.RLIMIT_FSIZE, True),
    "memlock": (_resource.RLIMIT_MEMLOCK, True),
    "cpu": (_resource.RLIMIT_CPU, False),  # seconds
    "rss": (_resource.RLIMIT_RSS, True),
    "msgqueue": (_resource.RLIMIT_MSGQUEUE, True),
    "nice": (_resource.RLIMIT_NICE, False),  # the kernel's ceiling, 0-40 (20 - the lowest nice value allowed)
    "rtprio": (_resource.RLIMIT_RTPRIO, False),
    "locks": (10, False),  # RLIMIT_LOCKS: the resource module leaves it out
    "sigpending": (_resource.RLIMIT_SIGPENDING, False),
}
UNLIMITED_WORDS = ("unlimited", "infinity")
MAX_VALUE = 2**63 - 2  # RLIM_INFINITY is 2**64 - 1; any value this large means the same in practice

Rlimits = dict[str, list[int | None]]  # as recorded: resource -> [soft, hard], None = unlimited


def parse_limit(item: str) -> tuple[str, list[int | None]]:
    """One --limit RESOURCE=SOFT[:HARD]: (resource, [soft, hard]); UsageError naming what is wrong."""
    name, sep, values = item.partition("=")
    name = name.strip().lower()
    if not sep or name not in RESOURCES:
        known = ", ".join(RESOURCES)
        if not sep:
            raise UsageError(f"--limit takes RESOURCE=SOFT[:HARD], not {item!r}")
        raise UsageError(f"--limit: unknown resource {name!r} (one of {known})")
    soft_text, colon, hard_text = values.partition(":")
    size = RESOURCES[name][1]
    soft = _value(soft_text, name, size, item)
    hard = _value(hard_text, name, size, item) if colon else soft
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


def _value(text: str, name: str, size: bool, item: str) -> int | None:
    raw = text.strip()
    if raw.lower() in UNLIMITED_WORDS:
        return None
    unit = raw[-1:].upper() if size and raw[-1:].isalpha() else ""
    digits = raw[: len(raw) - len(unit)]
    scale = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(unit)
    if scale is None or not (digits.isascii() and digits.isdigit()):
        what = "a number, with K, M, G or T," if size else "a whole number"
        raise UsageError(f"--limit {item}: {name} takes {what} or 'unlimited', not {text!r}")
    value = int(digits) * scale
    if value > MAX_VALUE:
        raise UsageError(f"--limit {item}: {text!r} is too large (use 'unlimited')")
    return value


def for_setrlimit(limits: Rlimits) -> tuple[tuple[int, int, int], ...]:
    """The recorded limits as setrlimit takes them: (resource number, soft, hard), RLIM_INFINITY for unlimited."""
    inf = _resource.RLIM_INFINITY
    return tuple(
        (RESOURCES[name][0], inf if soft is None else soft, inf if hard is None else hard)
        for name, (soft, hard) in sorted(limits.items())
    )


def apply(limits: tuple[tuple[int, int, int], ...]) -> None:
    """setrlimit each (in the grandchild): the hard limit may only be raised by root."""
    for number, soft, hard in limits:
        _resource.setrlimit(number, (soft, hard))


def systemd_value(pair: list[int | None]) -> str:
    """A limit as systemd's Limit*= takes it: SOFT:HARD, or one value when they are equal."""
    soft, hard = ("infinity" if v is None else str(v) for v in pair)
    return soft if soft == hard else f"{soft}:{hard}"


def systemd_key(name: str) -> str:
    return "Limit" + name.upper()
