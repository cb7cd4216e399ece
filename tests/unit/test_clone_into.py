"""The grandchild is born in its v2 cgroup when the kernel allows, and falls back to fork + join otherwise."""

import os
from pathlib import Path

from daemonctl.proc.clone_into import clone_into
from daemonctl.proc.spawn import fork_grandchild


def test_a_cgroup_that_cannot_be_opened_is_refused_with_none(tmp_path: Path) -> None:
    assert clone_into(str(tmp_path / "missing")) is None


def test_a_directory_outside_cgroup2_makes_no_process(tmp_path: Path) -> None:
    # The kernel refuses CLONE_INTO_CGROUP with a descriptor of any other file system (EBADF):
    # None, and no child exists that would go on running this test.
    before = set(os.listdir("/proc/self/task"))
    pid = clone_into(str(tmp_path))
    if pid == 0:  # pragma: no cover - only if the kernel made a child after all
        os._exit(0)
    assert pid is None
    assert set(os.listdir("/proc/self/task")) == before


def test_born_in_the_first_cgroup_when_clone_can() -> None:
    calls: list[str] = []

    def clone(path: str) -> int | None:
        calls.append(path)
        return 4242

    def fork() -> int:
        raise AssertionError("fork when clone worked")

    assert fork_grandchild(("/cg/v2/d", "/cg/memory/d"), fork, clone) == (4242, 1)
    assert calls == ["/cg/v2/d"]  # only the v2 one: the v1 ones are joined by writing cgroup.procs


def test_forks_and_joins_everything_itself_when_clone_cannot() -> None:
    assert fork_grandchild(("/cg/v2/d", "/cg/memory/d"), lambda: 77, lambda path: None) == (77, 0)


def test_without_cgroups_a_plain_fork() -> None:
    def clone(path: str) -> int | None:
        raise AssertionError("clone without a cgroup")

    assert fork_grandchild((), lambda: 78, clone) == (78, 0)
