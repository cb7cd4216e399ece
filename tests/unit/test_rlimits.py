"""--limit's resources as setrlimit numbers them, and the values the grandchild sets."""

import resource

from daemonctl import resource_limits
from daemonctl.proc import rlimits


def test_for_setrlimit_uses_the_kernels_infinity():
    inf = resource.RLIM_INFINITY
    assert rlimits.for_setrlimit({"nofile": [10, None], "core": [None, None]}) == (("core", inf, inf), ("nofile", 10, inf))


def test_locks_is_the_kernels_resource_10():
    assert rlimits.NUMBERS["locks"] == 10 == getattr(resource, "RLIMIT_LOCKS", 10)


def test_every_resource_the_options_take_has_its_number():
    assert set(rlimits.NUMBERS) == set(resource_limits.RLIMITS)
