"""The values of the resource-limit options as given, as recorded, and as systemd spells them."""

import pytest

from daemonctl import resource_limits as rl
from daemonctl.errors import UsageError


@pytest.mark.parametrize(("text", "size"), [("1048576", 1 << 20), ("512M", 512 << 20), ("2g", 2 << 30), ("1T", 1 << 40)])
def test_memory_max_takes_the_size_syntax_of_every_size_option(text, size):
    from daemonctl.start_options import BY_NAME

    assert BY_NAME["memory_max"].parse(text) == size


@pytest.mark.parametrize("text", ["", "M", "-1", "0", "1X", "1e9", "1.5G", "10 M", "2000000000T"])
def test_bad_memory_max(text):
    from daemonctl.start_options import BY_NAME

    with pytest.raises(UsageError, match="--memory-max"):
        BY_NAME["memory_max"].parse(text)


@pytest.mark.parametrize(("text", "n"), [("1", 1), ("100", 100), ("4194304", 4194304)])
def test_tasks(text, n):
    assert rl.parse_tasks(text) == n


@pytest.mark.parametrize("text", ["0", "-3", "1.5", "max", "", "4194305"])
def test_bad_tasks(text):
    with pytest.raises(UsageError, match="--tasks-max"):
        rl.parse_tasks(text)


@pytest.mark.parametrize(("text", "percent"), [("50", 50), ("250", 250), ("12.5", 12.5), ("50%", 50), ("1", 1)])
def test_percent(text, percent):
    assert rl.parse_percent(text) == percent


@pytest.mark.parametrize("text", ["0", "0.5", "-50", "abc", "", "100001", "nan"])
def test_bad_percent(text):
    with pytest.raises(UsageError, match="--cpu-max"):
        rl.parse_percent(text)


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
    assert rl.parse_limit(item) == parsed


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
        rl.parse_limit(item)


def test_the_last_of_one_resource_wins():
    assert rl.parse_limits(["nofile=10", "core=0", "nofile=20:30"]) == {"nofile": [20, 30], "core": [0, 0]}


def test_systemd_spelling():
    assert rl.systemd_key("nofile") == "LimitNOFILE"
    assert rl.systemd_value([1024, 1024]) == "1024"
    assert rl.systemd_value([1024, 4096]) == "1024:4096"
    assert rl.systemd_value([None, None]) == "infinity"
    assert rl.systemd_value([10, None]) == "10:infinity"


@pytest.mark.parametrize(("value", "problem"), [
    ({"nofile": [1, 2]}, None),
    ({"core": [None, None], "nofile": [5, None]}, None),
    ([], "must be an object"),
    ({"files": [1, 1]}, "unknown resource"),
    ({"nofile": [1]}, "must be [soft, hard]"),
    ({"nofile": [1, "2"]}, "whole numbers"),
    ({"nofile": [True, 2]}, "whole numbers"),
    ({"nofile": [-1, 2]}, "whole numbers"),
    ({"nofile": [3, 2]}, "soft limit above"),
    ({"nofile": [None, 2]}, "soft limit above"),
])
def test_the_records_check(value, problem):
    found = rl.recorded_check(value)
    assert found == problem if problem is None else problem in found


def test_systemd_lines():
    assert rl.systemd_lines({"nofile": [10, 20], "core": [None, None]}) == ["LimitCORE=infinity", "LimitNOFILE=10:20"]


def test_cpu_quota_for_systemd():
    assert rl.cpu_quota(50) == "50%" and rl.cpu_quota(12.5) == "12.5%"
