"""--limit's resources as setrlimit numbers them, for the grandchild (see spawn): it sets them before its exec.

The values are parsed and checked by resource_limits.py; recorded as {resource: [soft,
hard]}, None for unlimited.
"""

import resource as _resource

from daemonctl.resource_limits import Rlimits

NUMBERS: dict[str, int] = {
    "nofile": _resource.RLIMIT_NOFILE,
    "nproc": _resource.RLIMIT_NPROC,
    "core": _resource.RLIMIT_CORE,
    "as": _resource.RLIMIT_AS,
    "data": _resource.RLIMIT_DATA,
    "stack": _resource.RLIMIT_STACK,
    "fsize": _resource.RLIMIT_FSIZE,
    "memlock": _resource.RLIMIT_MEMLOCK,
    "cpu": _resource.RLIMIT_CPU,
    "rss": _resource.RLIMIT_RSS,
    "msgqueue": _resource.RLIMIT_MSGQUEUE,
    "nice": _resource.RLIMIT_NICE,
    "rtprio": _resource.RLIMIT_RTPRIO,
    "locks": 10,  # RLIMIT_LOCKS: the resource module leaves it out
    "sigpending": _resource.RLIMIT_SIGPENDING,
}


def for_setrlimit(limits: Rlimits) -> tuple[tuple[str, int, int], ...]:
    """The recorded limits as the grandchild sets them: (resource, soft, hard), RLIM_INFINITY for unlimited."""
    inf = _resource.RLIM_INFINITY
    return tuple(
        (name, inf if soft is None else soft, inf if hard is None else hard) for name, (soft, hard) in sorted(limits.items())
    )
