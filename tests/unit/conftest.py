"""The unit tests start no daemon, and so make no cgroup: the cgroup root points at an empty directory.

Tests of the cgroup code give it a fake tree of their own (cgroup_fakes.py); a start
with a stand-in spawn (test_start, test_fuzz_cli) then runs without cgroups, as
daemonctl does where there are none, instead of making real ones that nothing
would ever stop or remove.
"""

import pytest


@pytest.fixture(autouse=True)
def _no_real_cgroups(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("DAEMONCTL_CGROUP_ROOT", str(tmp_path_factory.mktemp("no-cgroups")))
