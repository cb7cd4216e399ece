"""containment: the cgroup's name, where it goes (root, delegated user, none), which hierarchy
enforces each limit, making it in a fake tree with its limits, and removing it."""

from pathlib import Path

import pytest
from cgroup_fakes import all_dirs, fake_mkdir, fake_rmdir, hybrid, pure, v2_root

from daemonctl.errors import Failure
from daemonctl.proc import cgroupfs, containment
from daemonctl.proc.cgroup_limits import CgroupLimits
from daemonctl.proc.containment import LimitNotEnforced, Placement

OWN_HYBRID = {"": "/", "memory": "/process_api/a7c5", "pids": "/", "cpu": "/"}
ALL = CgroupLimits(memory_max=256 << 20, tasks_max=50, cpu_max=50)


def test_names_differ_by_state_directory_and_stay_the_same_for_one(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (tmp_path / "link").symlink_to(a)
    assert containment.cgroup_name(str(a), "web") != containment.cgroup_name(str(b), "web")
    assert containment.cgroup_name(str(a), "web") == containment.cgroup_name(str(tmp_path / "link"), "web")
    tag, _, name = containment.cgroup_name(str(a), "web@2").partition(".")
    assert len(tag) == 16 and int(tag, 16) >= 0 and name == "web@2"


def test_root_goes_to_the_top_of_the_v2_hierarchy(tmp_path):
    layout = cgroupfs.discover(str(hybrid(tmp_path)))
    assert containment.base_dir(layout, 0, OWN_HYBRID) == f"{tmp_path}/unified/daemonctl"


def test_no_v2_hierarchy_no_cgroups(tmp_path):
    layout = cgroupfs.discover(str(tmp_path))
    assert containment.base_dir(layout, 0, OWN_HYBRID) is None


def test_a_user_goes_to_the_top_of_the_subtree_delegated_to_it():
    owners = {
        "/cg/user.slice": 0,
        "/cg/user.slice/user@1000.service": 1000,
        "/cg/user.slice/user@1000.service/cgroup.procs": 1000,
        "/cg/user.slice/user@1000.service/app.slice": 1000,
        "/cg/user.slice/user@1000.service/app.slice/cgroup.procs": 1000,
        "/cg/user.slice/user@1000.service/app.slice/x.scope": 1000,
        "/cg/user.slice/user@1000.service/app.slice/x.scope/cgroup.procs": 1000,
    }
    own = "/user.slice/user@1000.service/app.slice/x.scope"
    assert containment.delegated_base("/cg", own, 1000, owners.__getitem__) == "/cg/user.slice/user@1000.service"


def test_a_user_in_a_cgroup_it_does_not_own_has_none():
    owners = {"/cg/user.slice": 0, "/cg/user.slice/session-3.scope": 0, "/cg/user.slice/session-3.scope/cgroup.procs": 0}
    assert containment.delegated_base("/cg", "/user.slice/session-3.scope", 1000, owners.__getitem__) is None


def test_a_user_with_a_directory_but_not_its_procs_file_has_none():
    owners = {"/cg/a": 1000, "/cg/a/cgroup.procs": 0}
    assert containment.delegated_base("/cg", "/a", 1000, owners.__getitem__) is None


def test_hybrid_limits_go_to_v1_under_the_callers_own_v1_cgroup(tmp_path):
    layout = cgroupfs.discover(str(hybrid(tmp_path)))
    base = containment.base_dir(layout, 0, OWN_HYBRID)
    placement = containment.plan(layout, base, "ab.web", ALL, False, OWN_HYBRID)
    assert placement == Placement(
        f"{tmp_path}/unified/daemonctl/ab.web",
        (
            f"{tmp_path}/memory/process_api/a7c5/daemonctl/ab.web",
            f"{tmp_path}/pids/daemonctl/ab.web",
            f"{tmp_path}/cpu/daemonctl/ab.web",
        ),
    )


def test_pure_v2_limits_stay_in_v2_where_the_controllers_are_enabled(tmp_path):
    layout = cgroupfs.discover(str(pure(tmp_path)))
    base = containment.base_dir(layout, 0, {"": "/"})
    assert containment.plan(layout, base, "ab.web", ALL, True, {"": "/"}) == Placement(f"{tmp_path}/daemonctl/ab.web", (), True)


def test_a_controller_neither_enabled_in_v2_nor_mounted_as_v1_fails_the_start(tmp_path):
    layout = cgroupfs.discover(str(pure(tmp_path, enabled="memory")))
    base = containment.base_dir(layout, 0, {"": "/"})
    assert containment.plan(layout, base, "x", CgroupLimits(memory_max=1 << 20), False, {"": "/"}) is not None
    with pytest.raises(LimitNotEnforced, match="--tasks-max.*pids controller"):
        containment.plan(layout, base, "x", CgroupLimits(tasks_max=5), False, {"": "/"})


def test_without_cgroups_no_placement_and_any_limit_fails(tmp_path):
    layout = cgroupfs.discover(str(tmp_path))
    assert containment.plan(layout, None, "x", CgroupLimits(), False, None) is None
    with pytest.raises(LimitNotEnforced, match="--cpu-max.*no cgroup v2"):
        containment.plan(layout, None, "x", CgroupLimits(cpu_max=20), False, None)


def test_the_supervised_layout_puts_supervisor_and_program_apart():
    p = Placement("/cg/daemonctl/ab.web", ("/v1/memory/daemonctl/ab.web",), True)
    assert p.supervisor == "/cg/daemonctl/ab.web/supervisor"
    assert p.program_joins() == ("/cg/daemonctl/ab.web/program", "/v1/memory/daemonctl/ab.web")
    assert Placement("/cg/daemonctl/ab.web").program_joins() == ("/cg/daemonctl/ab.web",)


def made(tmp_path: Path, layout_root: Path, limits: CgroupLimits, supervised: bool, own: dict[str, str]) -> Placement:
    layout = cgroupfs.discover(str(layout_root))
    placement = containment.plan(layout, containment.base_dir(layout, 0, own), "ab.web", limits, supervised, own)
    assert placement is not None
    containment.create(placement, limits, layout, mkdir=fake_mkdir)
    return placement


def test_create_on_hybrid_writes_v1_limit_files(tmp_path):
    hybrid(tmp_path)
    (tmp_path / "memory" / "process_api" / "a7c5").mkdir(parents=True)
    p = made(tmp_path, tmp_path, ALL, False, OWN_HYBRID)
    memory, pids, cpu = (Path(d) for d in p.v1)
    assert (memory / "memory.limit_in_bytes").read_text() == str(256 << 20)
    assert (pids / "pids.max").read_text() == "50"
    assert (cpu / "cpu.cfs_period_us").read_text() == "100000"
    assert (cpu / "cpu.cfs_quota_us").read_text() == "50000"
    assert Path(p.v2).is_dir()
    assert (Path(p.v2) / "memory.max").read_text() == "max\n"  # v2 has no memory controller here: untouched


def test_create_on_pure_v2_enables_controllers_and_writes_v2_files(tmp_path):
    pure(tmp_path)
    p = made(tmp_path, tmp_path, CgroupLimits(memory_max=1 << 30, cpu_max=250), True, {"": "/"})
    assert Path(tmp_path, "daemonctl", "cgroup.subtree_control").read_text() == "+memory +cpu"
    assert Path(p.v2, "cgroup.subtree_control").read_text() == "+memory +cpu"
    assert Path(p.program, "memory.max").read_text() == str(1 << 30)
    assert Path(p.program, "cpu.max").read_text() == "250000 100000"
    assert Path(p.supervisor, "memory.max").read_text() == "max\n"  # the supervisor is never limited
    assert p.v1 == ()


def test_the_roots_own_subtree_control_is_never_written(tmp_path):
    pure(tmp_path, enabled="memory")
    made(tmp_path, tmp_path, CgroupLimits(memory_max=1 << 30), False, {"": "/"})
    assert (tmp_path / "cgroup.subtree_control").read_text() == "memory\n"


def test_a_failed_limit_leaves_no_cgroup_behind(tmp_path):
    hybrid(tmp_path)

    def mkdir_without_pids_max(path: str, mode: int = 0o755) -> None:
        fake_mkdir(path, mode)
        Path(path, "pids.max").unlink()
        Path(path, "pids.max").mkdir()  # writing it fails (EISDIR), as a value the kernel refuses would

    def rmdir(path: str) -> None:
        if Path(path, "pids.max").is_dir():
            Path(path, "pids.max").rmdir()
        fake_rmdir(path)

    layout = cgroupfs.discover(str(tmp_path))
    own = {"": "/"}
    placement = containment.plan(layout, containment.base_dir(layout, 0, own), "ab.web", ALL, False, own)
    before = all_dirs(tmp_path)
    with pytest.raises(Failure, match="ab.web"):
        containment.create(placement, ALL, layout, mkdir=mkdir_without_pids_max, rmdir=rmdir)
    assert all_dirs(tmp_path) == before
    assert not Path(placement.v2).exists()


def test_a_cgroup_with_processes_in_it_is_not_taken_over(tmp_path):
    pure(tmp_path)
    fake_mkdir(str(tmp_path / "daemonctl"))
    fake_mkdir(str(tmp_path / "daemonctl" / "ab.web"))
    Path(tmp_path, "daemonctl", "ab.web", "cgroup.events").write_text("populated 1\n")
    Path(tmp_path, "daemonctl", "ab.web", "cgroup.procs").write_text("4242\n")
    layout = cgroupfs.discover(str(tmp_path))
    with pytest.raises(Failure, match="still has processes in it .pids 4242"):
        containment.create(Placement(f"{tmp_path}/daemonctl/ab.web"), CgroupLimits(), layout, mkdir=fake_mkdir)
    assert Path(tmp_path, "daemonctl", "ab.web").is_dir()  # not ours to remove either


def test_remove_takes_everything_below_and_the_empty_shared_directory(tmp_path):
    v2_root(tmp_path)
    for d in ("daemonctl", "daemonctl/ab.web", "daemonctl/ab.web/supervisor", "daemonctl/ab.web/program", "v1/daemonctl/ab.web"):
        (tmp_path / d).mkdir(parents=True)
    (tmp_path / "daemonctl" / "ab.other").mkdir()  # another daemon's: the shared directory stays
    left = containment.remove(Placement(f"{tmp_path}/daemonctl/ab.web", (f"{tmp_path}/v1/daemonctl/ab.web",), True), fake_rmdir)
    assert left == []
    assert all_dirs(tmp_path) == {"daemonctl", "daemonctl/ab.other", "v1"}


def test_remove_of_what_is_gone_already_is_quiet(tmp_path):
    assert containment.remove(Placement(f"{tmp_path}/daemonctl/ab.web"), fake_rmdir) == []


def test_remove_leaves_a_cgroup_that_still_has_processes_and_says_so(tmp_path):
    fake_mkdir(str(tmp_path / "daemonctl"))
    fake_mkdir(str(tmp_path / "daemonctl" / "ab.web"))
    Path(tmp_path, "daemonctl", "ab.web", "cgroup.procs").write_text("4242\n")
    assert containment.remove(Placement(f"{tmp_path}/daemonctl/ab.web"), fake_rmdir) == [f"{tmp_path}/daemonctl/ab.web"]
    assert Path(tmp_path, "daemonctl", "ab.web").is_dir()
