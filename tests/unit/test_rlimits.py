"""--limit RESOURCE=SOFT[:HARD]: parsing, what setrlimit gets, and systemd's spelling."""

import resource

import pytest

from daemonctl.errors import UsageError
from daemonctl.proc import rlimits


@pytest.mark.parametrize(("item", "parsed"), [
    ("nofile=1024", ("nofile", [1024, 1024])),
    ("nofile=1024:4096", ("nofile", [1024, 4096])),
    ("NOFILE=10:unlimited", ("nofile", [10, None])),
    ("core=unlimited", ("core", [None, None])),
    ("core=infinity:infinity", ("core", [None, None])),
    ("as=1G", ("as", [1 << 30, 1 << 30])),
    ("stack=8M:16M", ("stack", [8 << 20, 16 << 20])),
    ("cpu=60:120", ("cpu", [60, 120])),
    ("nice=0", ("nice", [0, 0])),
])
def test_limits(item, parsed):
    assert rlimits.parse_limit(item) == parsed


@pytest.mark.parametrize(("item", "says"), [
    ("nofile", "RESOURCE=SOFT"),
    ("files=10", "unknown resource 'files'"),
    ("nofile=", "whole number"),
    ("nofile=-1", "whole number"),
    ("nofile=1M", "whole number"),  # a count takes no size suffix
    ("as=1X", "K, M, G or T"),
    ("nofile=4096:1024", "soft limit is above the hard"),
    ("nofile=unlimited:1024", "soft limit is above the hard"),
    ("nofile=1:2:3", "whole number"),
    (f"as={2**64}", "too large"),
])
def test_bad_limits(item, says):
    with pytest.raises(UsageError, match=says):
        rlimits.parse_limit(item)


def test_the_last_of_one_resource_wins():
    assert rlimits.parse_limits(["nofile=10", "core=0", "nofile=20:30"]) == {"nofile": [20, 30], "core": [0, 0]}


def test_for_setrlimit_uses_the_kernels_infinity():
    inf = resource.RLIM_INFINITY
    assert rlimits.for_setrlimit({"nofile": [10, None], "core": [None, None]}) == (
        (resource.RLIMIT_CORE, inf, inf), (resource.RLIMIT_NOFILE, 10, inf))


def test_locks_is_the_kernels_resource_10():
    assert rlimits.RESOURCES["locks"][0] == 10 == getattr(resource, "RLIMIT_LOCKS", 10)


def test_systemd_spelling():
    assert rlimits.systemd_key("nofile") == "LimitNOFILE"
    assert rlimits.systemd_value([1024, 1024]) == "1024"
    assert rlimits.systemd_value([1024, 4096]) == "1024:4096"
    assert rlimits.systemd_value([None, None]) == "infinity"
    assert rlimits.systemd_value([10, None]) == "10:infinity"
