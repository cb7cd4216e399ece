"""A cgroup tree of the tests' own, in a temporary directory: the layouts daemonctl meets, and a
mkdir that makes the files the kernel would. Nothing here touches /sys/fs/cgroup."""

from __future__ import annotations

import os
from pathlib import Path

# The files the kernel gives every new cgroup (of either version), as far as daemonctl uses them.
KERNEL_FILES = {
    "cgroup.procs": "",
    "cgroup.events": "populated 0\nfrozen 0\n",
    "cgroup.subtree_control": "",
    "cgroup.kill": "",
    "memory.max": "max\n",
    "pids.max": "max\n",
    "cpu.max": "max 100000\n",
    "memory.limit_in_bytes": "9223372036854771712\n",
    "cpu.cfs_period_us": "100000\n",
    "cpu.cfs_quota_us": "-1\n",
}


def fake_mkdir(path: str, mode: int = 0o755) -> None:
    os.mkdir(path, mode)
    for name, text in KERNEL_FILES.items():
        Path(path, name).write_text(text)


def v2_root(path: Path, enabled: str = "") -> Path:
    """A v2 hierarchy's root at `path` with `enabled` in its cgroup.subtree_control."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids\n" if enabled else "hugetlb\n")
    (path / "cgroup.subtree_control").write_text(enabled + "\n")
    (path / "cgroup.procs").write_text("")
    return path


def v1_root(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "tasks").write_text("")
    (path / "cgroup.procs").write_text("")
    return path


def hybrid(root: Path, v1: tuple[str, ...] = ("memory", "pids", "cpu")) -> Path:
    """The hybrid layout (this machine's): v2 at root/unified with no controller, v1 hierarchies beside it."""
    v2_root(root / "unified")
    for controller in v1:
        v1_root(root / controller)
    return root


def pure(root: Path, enabled: str = "cpu memory pids") -> Path:
    """The pure v2 layout of current distributions: one hierarchy at root, controllers enabled."""
    return v2_root(root, enabled)


def all_dirs(root: Path) -> set[str]:
    """Every directory under root (relative), to show what was made and what is left."""
    return {str(Path(d).relative_to(root)) for d, _, _ in os.walk(root)} - {"."}


def fake_rmdir(path: str) -> None:
    """rmdir as cgroupfs does it: the kernel's files go with the directory; a child cgroup keeps it."""
    for name in KERNEL_FILES:
        p = Path(path, name)
        if p.is_file():
            if name == "cgroup.procs" and p.read_text().strip():
                raise OSError(16, "Device or resource busy", path)
    for name in KERNEL_FILES:
        p = Path(path, name)
        if p.is_file():
            p.unlink()
    os.rmdir(path)
