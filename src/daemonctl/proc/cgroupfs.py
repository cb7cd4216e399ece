"""The cgroup filesystems: where the hierarchies are, which cgroup a process is in, and who is in one.

Two layouts exist. Pure cgroup v2 (current distributions): one hierarchy mounted
at ROOT (/sys/fs/cgroup). Hybrid: the v2 hierarchy at ROOT/unified, often with no
controller of its own, and the controllers as cgroup v1 hierarchies at ROOT/memory,
ROOT/pids, ROOT/cpu... daemonctl contains a daemon in the v2 hierarchy (where
every process can be listed, killed at once and waited for), and enforces limits
through the v2 controllers where they are enabled, else through the v1 ones.

ROOT is an argument everywhere (tests give a tree of their own); the command line
takes it from DAEMONCTL_CGROUP_ROOT, else /sys/fs/cgroup.

Plain Python on purpose: the resident supervisor imports it.
"""

import errno
import os
from collections.abc import Mapping

from daemonctl.proc.procfs import PROC
from daemonctl.speedups import NamedTuple

DEFAULT_ROOT = "/sys/fs/cgroup"
ROOT_ENV = "DAEMONCTL_CGROUP_ROOT"
V1_CONTROLLERS = ("memory", "pids", "cpu")  # the ones daemonctl's limits use
V2 = ""  # the key of the v2 hierarchy in own_cgroups()


class Layout(NamedTuple):
    """The hierarchies found under a cgroup root."""

    v2: str | None  # where the v2 hierarchy is mounted; None: no v2 (cgroups not usable)
    v1: Mapping[str, str]  # controller -> where its v1 hierarchy is mounted

    @property
    def hybrid(self) -> bool:
        return self.v2 is not None and bool(self.v1)


def cgroup_root(environ: Mapping[str, str] = os.environ) -> str:
    return environ.get(ROOT_ENV) or DEFAULT_ROOT


def discover(root: str) -> Layout:
    """The layout under `root`: a v2 mount there (pure) or at root/unified (hybrid), v1 controllers beside it."""
    if os.path.isfile(f"{root}/cgroup.controllers"):
        return Layout(root, {})
    unified = f"{root}/unified"
    v2 = unified if os.path.isfile(f"{unified}/cgroup.controllers") else None
    # A v1 hierarchy has a `tasks` file at its root (cpu is often a symlink to cpu,cpuacct).
    v1 = {c: f"{root}/{c}" for c in V1_CONTROLLERS if os.path.isfile(f"{root}/{c}/tasks")}
    return Layout(v2, v1)


def parse_cgroups(text: str) -> dict[str, str]:
    """/proc/PID/cgroup as {controller: path}; the v2 hierarchy ("0::/path") under the key V2.

    A v1 line naming several controllers ("2:cpu,cpuacct:/x") gives each of them;
    a named hierarchy ("name=systemd") is left out.
    """
    found: dict[str, str] = {}
    for line in text.splitlines():
        number, _, rest = line.partition(":")
        controllers, sep, path = rest.partition(":")
        if not sep or not number.isdigit():
            continue
        if number == "0" and controllers == "":
            found[V2] = path
            continue
        for controller in controllers.split(","):
            if controller and not controller.startswith("name="):
                found[controller] = path
    return found


def own_cgroups(pid: int | str = "self", proc: str = PROC) -> dict[str, str] | None:
    """The cgroups of PID (see parse_cgroups); None when it is gone."""
    try:
        with open(f"{proc}/{pid}/cgroup", encoding="utf-8", errors="surrogateescape") as f:
            return parse_cgroups(f.read())
    except (FileNotFoundError, ProcessLookupError):
        return None


class Cgroup(NamedTuple):
    """A cgroup of the v2 hierarchy, as a directory and as /proc/PID/cgroup names it."""

    path: str  # the directory, e.g. /sys/fs/cgroup/daemonctl/0123456789abcdef.web
    rel: str  # the same cgroup in /proc/PID/cgroup, e.g. /daemonctl/0123456789abcdef.web


def _unescape(field: str) -> str:
    """A path of /proc/self/mountinfo, where space, tab, newline and backslash are octal escapes."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def v2_mounts(mountinfo: str) -> list[tuple[str, str]]:
    """Every cgroup2 mount in the text of /proc/self/mountinfo: (mount point, root of the hierarchy it shows)."""
    found = []
    for line in mountinfo.splitlines():
        head, sep, tail = line.partition(" - ")
        fields = head.split()
        if sep and tail.split(" ", 1)[0] == "cgroup2" and len(fields) >= 5:
            found.append((_unescape(fields[4]), _unescape(fields[3])))
    return found


def locate(path: str, proc: str = PROC) -> Cgroup | None:
    """The cgroup of the v2 hierarchy at directory `path`; None when `path` is not in a cgroup2 mount.

    What a record names is located this way before anything is signalled through
    it: a directory elsewhere that merely looks like a cgroup proves nothing.
    """
    try:
        with open(f"{proc}/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
            mounts = v2_mounts(f.read())
    except OSError:
        return None
    path = os.path.normpath(path)
    best: tuple[str, str] | None = None
    for point, root in mounts:
        if (path == point or path.startswith(point.rstrip("/") + "/")) and (best is None or len(point) > len(best[0])):
            best = (point, root)
    if best is None or not os.path.isdir(path):
        return None
    point, root = best
    rest = path[len(point.rstrip("/")) :]
    return Cgroup(path, (root.rstrip("/") + rest) or "/")


def contains(outer: str, inner: str) -> bool:
    """Is cgroup path `inner` the cgroup `outer` or one below it?"""
    return inner == outer or inner.startswith(outer.rstrip("/") + "/")


def is_member(pid: int, cgroup: Cgroup, proc: str = PROC) -> bool:
    """Is PID a member of the daemon's cgroup `cgroup` (in it, or in a cgroup below it)?

    For --forking and stop: a process in the daemon's cgroup is one the daemon
    started (whatever its session, group or parent), as nothing leaves a cgroup
    on its own. A zombie still names the cgroup it died in. False when PID is gone.
    Call it after opening a pidfd on PID to rule out PID reuse, as stop does.
    """
    groups = own_cgroups(pid, proc)
    return groups is not None and V2 in groups and contains(cgroup.rel, groups[V2])


def member_of(pid: int, path: str, proc: str = PROC) -> bool:
    """is_member for a cgroup given by its directory (as a record keeps it); False when it is not one."""
    cgroup = locate(path, proc)
    return cgroup is not None and is_member(pid, cgroup, proc)


def procs(path: str) -> list[int]:
    """The PIDs in the cgroup at `path` and every cgroup below it (zombies are not listed)."""
    found: list[int] = []
    try:
        with open(f"{path}/cgroup.procs", encoding="utf-8") as f:
            found.extend(int(line) for line in f.read().split())
        with os.scandir(path) as entries:
            children = [e.path for e in entries if e.is_dir(follow_symlinks=False)]
    except NotADirectoryError:
        return found
    except OSError as err:
        if removed(err):
            return found
        raise
    for child in children:
        found.extend(procs(child))
    return found


def populated(path: str) -> bool | None:
    """Whether anything runs in the cgroup or below it (cgroup.events); None when it is gone."""
    try:
        with open(f"{path}/cgroup.events", encoding="utf-8") as f:
            return populated_in(f.read())
    except OSError as err:
        if removed(err):
            return None
        raise


def removed(err: OSError) -> bool:
    """Does `err` say the cgroup is gone: not found, or removed while we were opening or reading
    one of its files (ENODEV; rmdir takes only an empty cgroup)?"""
    return err.errno in (errno.ENOENT, errno.ENODEV)


def populated_in(events: str) -> bool:
    for line in events.splitlines():
        key, _, value = line.partition(" ")
        if key == "populated":
            return value.strip() != "0"
    return False


def read_key(path: str, key: str) -> int | None:
    """The value of KEY in a flat-keyed file ("key value" lines: cpu.stat, memory.events); None if absent."""
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                k, _, value = line.partition(" ")
                if k == key:
                    return int(value)
    except (OSError, ValueError):
        return None
    return None


def read_int(path: str) -> int | None:
    """A file holding one number (memory.current, pids.current); None if absent or "max"."""
    try:
        with open(path, encoding="utf-8") as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


def write(path: str, value: str) -> None:
    """Write one value to a cgroup file (OSError when the kernel refuses it)."""
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)  # O_TRUNC: as a shell's `>`
    try:
        os.write(fd, value.encode("ascii"))
    finally:
        os.close(fd)
