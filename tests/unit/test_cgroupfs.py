"""cgroupfs: the layouts, /proc/PID/cgroup, mountinfo, membership, and a cgroup's processes."""

import os
from pathlib import Path

from cgroup_fakes import fake_mkdir, hybrid, pure

from daemonctl.proc import cgroupfs
from daemonctl.proc.cgroupfs import Cgroup

HYBRID_CGROUP = """12:pids:/
4:memory:/process_api/a7c5
2:cpu,cpuacct:/
9:name=systemd:/
0::/
"""


def test_pure_v2_layout_is_the_root_itself(tmp_path):
    pure(tmp_path)
    assert cgroupfs.discover(str(tmp_path)) == cgroupfs.Layout(str(tmp_path), {})


def test_hybrid_layout_has_v2_at_unified_and_v1_controllers_beside_it(tmp_path):
    hybrid(tmp_path, v1=("memory", "pids"))
    layout = cgroupfs.discover(str(tmp_path))
    assert layout.v2 == f"{tmp_path}/unified"
    assert dict(layout.v1) == {"memory": f"{tmp_path}/memory", "pids": f"{tmp_path}/pids"}
    assert layout.hybrid


def test_no_cgroups_at_all(tmp_path):
    assert cgroupfs.discover(str(tmp_path / "nothing")) == cgroupfs.Layout(None, {})


def test_root_from_environment():
    assert cgroupfs.cgroup_root({}) == "/sys/fs/cgroup"
    assert cgroupfs.cgroup_root({"DAEMONCTL_CGROUP_ROOT": "/tmp/cg"}) == "/tmp/cg"


def test_parse_cgroups_splits_joined_controllers_and_leaves_named_hierarchies_out():
    found = cgroupfs.parse_cgroups(HYBRID_CGROUP)
    assert found == {"pids": "/", "memory": "/process_api/a7c5", "cpu": "/", "cpuacct": "/", "": "/"}


MOUNTINFO = r"""24 30 0:22 / /sys rw,nosuid shared:7 - sysfs sysfs rw
35 24 0:30 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw
40 24 0:35 / /sys/fs/cgroup/memory rw shared:15 - cgroup cgroup rw,memory
90 88 0:30 /daemonctl /tmp/my\040mount rw - cgroup2 none rw
"""


def test_v2_mounts_from_mountinfo_unescaped_and_v1_left_out():
    assert cgroupfs.v2_mounts(MOUNTINFO) == [("/sys/fs/cgroup/unified", "/"), ("/tmp/my mount", "/daemonctl")]


def fake_proc(tmp_path: Path, mountinfo: str, cgroups: dict[int, str]) -> str:
    proc = tmp_path / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "self" / "mountinfo").write_text(mountinfo)
    for pid, v2 in cgroups.items():
        (proc / str(pid)).mkdir()
        (proc / str(pid) / "cgroup").write_text(f"4:memory:/x\n0::{v2}\n")
    return str(proc)


def test_locate_gives_the_path_proc_shows(tmp_path):
    mount = tmp_path / "mnt"
    (mount / "daemonctl" / "ab.web").mkdir(parents=True)
    proc = fake_proc(tmp_path, f"35 24 0:30 / {mount} rw - cgroup2 cgroup2 rw\n", {})
    assert cgroupfs.locate(f"{mount}/daemonctl/ab.web", proc) == Cgroup(f"{mount}/daemonctl/ab.web", "/daemonctl/ab.web")
    assert cgroupfs.locate(str(mount), proc) == Cgroup(str(mount), "/")


def test_locate_refuses_a_directory_outside_any_cgroup2_mount(tmp_path):
    fake = tmp_path / "home" / "daemonctl" / "ab.web"
    fake.mkdir(parents=True)
    (fake / "cgroup.procs").write_text("1\n")  # looks like a cgroup, is not one
    proc = fake_proc(tmp_path, MOUNTINFO, {})
    assert cgroupfs.locate(str(fake), proc) is None


def test_locate_a_bind_mounted_subtree_keeps_its_root(tmp_path):
    mount = tmp_path / "sub"
    (mount / "ab.web").mkdir(parents=True)
    proc = fake_proc(tmp_path, f"90 88 0:30 /daemonctl {mount} rw - cgroup2 none rw\n", {})
    assert cgroupfs.locate(f"{mount}/ab.web", proc).rel == "/daemonctl/ab.web"


def test_is_member_of_the_cgroup_or_one_below_it_and_nothing_else(tmp_path):
    proc = fake_proc(tmp_path, "", {
        10: "/daemonctl/ab.web",
        11: "/daemonctl/ab.web/program",
        12: "/daemonctl/ab.webby",  # a prefix of the name is not membership
        13: "/",
    })
    web = Cgroup("/unused", "/daemonctl/ab.web")
    assert cgroupfs.is_member(10, web, proc)
    assert cgroupfs.is_member(11, web, proc)
    assert not cgroupfs.is_member(12, web, proc)
    assert not cgroupfs.is_member(13, web, proc)
    assert not cgroupfs.is_member(14, web, proc)  # gone


def test_member_of_a_real_process_in_its_own_cgroup():
    own = cgroupfs.own_cgroups()
    assert own is not None and "" in own
    mounts = cgroupfs.v2_mounts(Path("/proc/self/mountinfo").read_text())
    if not mounts:
        return  # no cgroup2 here: membership is false for everyone, shown above
    point, _ = mounts[0]
    path = os.path.normpath(point + own[""])
    assert cgroupfs.member_of(os.getpid(), path)
    assert not cgroupfs.member_of(os.getpid(), "/nonexistent/daemonctl/x")


def test_procs_lists_the_cgroup_and_every_cgroup_below_it(tmp_path):
    top = tmp_path / "d"
    fake_mkdir(str(top))
    fake_mkdir(str(top / "supervisor"))
    fake_mkdir(str(top / "program"))
    (top / "supervisor" / "cgroup.procs").write_text("100\n")
    (top / "program" / "cgroup.procs").write_text("200\n201\n")
    assert sorted(cgroupfs.procs(str(top))) == [100, 200, 201]
    assert cgroupfs.procs(str(tmp_path / "gone")) == []


def test_populated_and_flat_keyed_files(tmp_path):
    fake_mkdir(str(tmp_path / "d"))
    assert cgroupfs.populated(str(tmp_path / "d")) is False
    (tmp_path / "d" / "cgroup.events").write_text("populated 1\nfrozen 0\n")
    assert cgroupfs.populated(str(tmp_path / "d")) is True
    assert cgroupfs.populated(str(tmp_path / "gone")) is None
    (tmp_path / "cpu.stat").write_text("usage_usec 1500000\nuser_usec 1000000\n")
    assert cgroupfs.read_key(str(tmp_path / "cpu.stat"), "usage_usec") == 1500000
    assert cgroupfs.read_key(str(tmp_path / "cpu.stat"), "nope") is None
    (tmp_path / "memory.max").write_text("max\n")
    assert cgroupfs.read_int(str(tmp_path / "memory.max")) is None
