"""A daemon's own cgroups: where they go, making them with their limits, joining them, removing them.

The daemon's cgroup D lives in the v2 hierarchy, under a `daemonctl` directory:
at the top of the hierarchy for root, else at the top of the subtree delegated to
the caller (the highest cgroup above its own that it owns). Its name joins a tag
of the state directory and the daemon's NAME, so two state directories never
meet. A plain daemon's program is in D itself; with --respawn D holds two leaves,
`supervisor` and `program`, and the limits are the program's alone: the
supervisor is never the one the OOM killer or pids.max hits.

A limit whose controller is not enabled in the v2 hierarchy goes to the cgroup
v1 hierarchy of that controller, in a cgroup of the same name under the caller's
own cgroup there (so a daemon started inside a container stays within its limits).

Making, joining and removing take their paths as arguments: the tests make them
in a tree of their own.
"""

import os
from collections.abc import Callable, Iterable, Mapping

from daemonctl.errors import Failure
from daemonctl.proc import cgroupfs
from daemonctl.proc.cgroup_limits import CONTROLLER, OPTION, CgroupLimits, v1_files, v2_files
from daemonctl.speedups import NamedTuple

SUBTREE = "daemonctl"
SUPERVISOR, PROGRAM = "supervisor", "program"


class LimitNotEnforced(Failure):
    """A limit asked for that nothing here can enforce: the start fails (exit 1)."""


class CgroupUnusable(Failure):
    """The daemon's cgroup cannot be made (a read-only hierarchy, no right to it): without limits, start goes on without."""


class Placement(NamedTuple):
    """Where one daemon runs: its v2 cgroup, and the v1 cgroups of limits v2 cannot enforce."""

    v2: str  # the daemon's cgroup D (a directory)
    v1: tuple[str, ...] = ()
    supervised: bool = False  # --respawn: D/supervisor and D/program

    @property
    def program(self) -> str:
        return f"{self.v2}/{PROGRAM}" if self.supervised else self.v2

    @property
    def supervisor(self) -> str | None:
        return f"{self.v2}/{SUPERVISOR}" if self.supervised else None

    def program_joins(self) -> tuple[str, ...]:
        """The cgroups the program's process joins before its exec."""
        return (self.program, *self.v1)


def cgroup_name(state_dir: str, name: str) -> str:
    """The name of NAME's cgroup: a tag of the state directory (its real path), a dot, NAME."""
    from _blake2 import blake2b  # hashlib would load OpenSSL first: 2 ms of every start

    tag = blake2b(os.fsencode(os.path.realpath(state_dir)), digest_size=8).hexdigest()
    return f"{tag}.{name}"


def delegated_base(v2: str, own: str, uid: int, owner: Callable[[str], int] = lambda p: os.stat(p).st_uid) -> str | None:
    """The top of the v2 subtree delegated to `uid` that holds its cgroup `own`; None when it has none.

    The caller's own cgroup must be in it: moving a process needs write access
    to the cgroup.procs of the common ancestor of where it is and where it goes.
    """
    parts = [p for p in own.split("/") if p]
    found = None
    for depth in range(len(parts), 0, -1):
        path = v2 + "/" + "/".join(parts[:depth])
        try:
            if owner(path) != uid or owner(f"{path}/cgroup.procs") != uid:
                break
        except OSError:
            break
        found = path
    return found


def base_dir(layout: cgroupfs.Layout, uid: int, own: Mapping[str, str] | None) -> str | None:
    """The `daemonctl` directory of the v2 hierarchy for this caller; None: no cgroups for it."""
    if layout.v2 is None:
        return None
    if uid == 0:
        return f"{layout.v2}/{SUBTREE}"
    if own is None or cgroupfs.V2 not in own:
        return None
    top = delegated_base(layout.v2, own[cgroupfs.V2], uid)
    return None if top is None else f"{top}/{SUBTREE}"


class Prepared(NamedTuple):
    """A daemon's cgroups as planned, and the layout they were planned in."""

    placement: Placement
    layout: cgroupfs.Layout
    limits: CgroupLimits


def prepare(
    state_dir: str,
    name: str,
    limits: CgroupLimits,
    supervised: bool,
    environ: Mapping[str, str] = os.environ,
    uid: int | None = None,
) -> Prepared | None:
    """Plan NAME's cgroups on this machine; None without cgroups; LimitNotEnforced when a limit cannot be."""
    layout = cgroupfs.discover(cgroupfs.cgroup_root(environ))
    own = cgroupfs.own_cgroups() if layout.v2 is not None else None
    base = base_dir(layout, os.geteuid() if uid is None else uid, own)
    placement = plan(layout, base, cgroup_name(state_dir, name), limits, supervised, own)
    return None if placement is None else Prepared(placement, layout, limits)


def owned(path: str, state_dir: str, name: str) -> bool:
    """Is `path` (from a record) named as daemonctl names NAME's cgroup for this state directory?

    A record is checked whole, but it is a file: nothing is signalled through a
    cgroup that does not have the name daemonctl gives, in a `daemonctl` directory.
    """
    parent, base = os.path.split(os.path.normpath(path))
    return os.path.basename(parent) == SUBTREE and base == cgroup_name(state_dir, name)


def enabled_v2(base: str) -> set[str]:
    """The controllers the system enabled for the children of base's parent (its cgroup.subtree_control)."""
    try:
        with open(f"{os.path.dirname(base)}/cgroup.subtree_control", encoding="utf-8") as f:
            return set(f.read().split())
    except OSError:
        return set()


def plan(
    layout: cgroupfs.Layout,
    base: str | None,
    cgname: str,
    limits: CgroupLimits,
    supervised: bool,
    own: Mapping[str, str] | None,
) -> Placement | None:
    """Where the daemon goes; None without cgroups. LimitNotEnforced when a limit has nowhere to go."""
    given = limits.given()
    if base is None:
        if given:
            raise LimitNotEnforced(f"cannot enforce {OPTION[given[0][0]]} here: {_why_no_cgroups(layout)}")
        return None
    v2_enabled = enabled_v2(base)
    v1: list[str] = []
    for field, _ in given:
        controller = CONTROLLER[field]
        if controller in v2_enabled:
            continue
        mount = layout.v1.get(controller)
        if mount is None:
            raise LimitNotEnforced(
                f"cannot enforce {OPTION[field]} here: the {controller} controller is neither enabled in the cgroup v2 "
                f"hierarchy ({os.path.dirname(base)}/cgroup.subtree_control) nor mounted as cgroup v1"
            )
        where = (own or {}).get(controller, "/")
        path = os.path.normpath(f"{mount}/{where}/{SUBTREE}/{cgname}")
        if path not in v1:
            v1.append(path)
    return Placement(f"{base}/{cgname}", tuple(v1), supervised)


def _why_no_cgroups(layout: cgroupfs.Layout) -> str:
    if layout.v2 is None:
        return "no cgroup v2 hierarchy is mounted"
    return "no cgroup of its own can be made (not root, and no cgroup v2 subtree is delegated to this user)"


Mkdir = Callable[[str, int], None]
Rmdir = Callable[[str], None]


def create(
    placement: Placement,
    limits: CgroupLimits,
    layout: cgroupfs.Layout,
    attempts: int = 3,
    mkdir: Mkdir = os.mkdir,
    rmdir: Rmdir = os.rmdir,
) -> None:
    """Make the daemon's cgroups and set its limits; on any failure remove what was made and raise Failure.

    A cgroup of that name left empty by an earlier run is taken over; one that
    still has processes in it is refused (they are not this start's to adopt).
    `mkdir`, `rmdir`: a test's stand-ins that make and remove the files the kernel would.
    """
    for attempt in range(attempts):
        made: list[str] = []
        try:
            _create(placement, limits, layout, made, mkdir)
            return
        except FileNotFoundError:
            # A stop removed an emptied `daemonctl` directory between our mkdirs: again.
            _remove_dirs(reversed(made), rmdir)
            if attempt == attempts - 1:
                raise Failure(f"cannot make the cgroup {placement.v2}: its parent keeps disappearing") from None
        except OSError as err:
            _remove_dirs(reversed(made), rmdir)
            raise _failure(placement, limits, err) from None
        except BaseException:
            _remove_dirs(reversed(made), rmdir)
            raise


def _create(placement: Placement, limits: CgroupLimits, layout: cgroupfs.Layout, made: list[str], mkdir: Mkdir) -> None:
    base = os.path.dirname(placement.v2)
    on_v2 = [(field, value) for field, value in limits.given() if CONTROLLER[field] in enabled_v2(base)]
    _mkdir(base, made, mkdir)
    _mkdir(placement.v2, made, mkdir)
    if cgroupfs.populated(placement.v2):
        raise Failure(f"the cgroup {placement.v2} still has processes in it (pids {_some(cgroupfs.procs(placement.v2))}); "
                      "they are not this start's to take over")
    controllers = " ".join(f"+{CONTROLLER[field]}" for field, _ in on_v2)
    if controllers:
        cgroupfs.write(f"{base}/cgroup.subtree_control", controllers)
    if placement.supervised:
        if controllers:
            cgroupfs.write(f"{placement.v2}/cgroup.subtree_control", controllers)
        _mkdir(f"{placement.v2}/{SUPERVISOR}", made, mkdir)
        _mkdir(placement.program, made, mkdir)
    for field, value in on_v2:
        for name, text in v2_files(field, value):
            cgroupfs.write(f"{placement.program}/{name}", text)
    for field, value in limits.given():
        if (field, value) in on_v2:
            continue
        mount = layout.v1[CONTROLLER[field]]
        path = next(p for p in placement.v1 if p.startswith(mount.rstrip("/") + "/"))
        _mkdir(os.path.dirname(path), made, mkdir)
        _mkdir(path, made, mkdir)
        for name, text in v1_files(field, value):
            cgroupfs.write(f"{path}/{name}", text)


def _mkdir(path: str, made: list[str], mkdir: Mkdir) -> None:
    try:
        mkdir(path, 0o755)
    except FileExistsError:
        return
    made.append(path)


def _some(pids: list[int]) -> str:
    return " ".join(map(str, pids[:5])) + (" ..." if len(pids) > 5 else "")


def _failure(placement: Placement, limits: CgroupLimits, err: OSError) -> Failure:
    where = err.filename or placement.v2
    if limits.given():
        return LimitNotEnforced(f"cannot enforce the daemon's limits in {where}: {err.strerror}")
    return CgroupUnusable(f"cannot make the daemon's cgroup {where}: {err.strerror}")


def remove(placement: Placement, rmdir: Rmdir = os.rmdir) -> list[str]:
    """Remove the daemon's cgroups once empty (everything below D too), then `daemonctl` directories left empty.

    Returns the ones that could not be removed (still busy), for the caller to say so.
    """
    left: list[str] = []
    for top in (placement.v2, *placement.v1):
        left += _remove_tree(top, rmdir)
        _remove_dirs([os.path.dirname(top)], rmdir)  # the shared `daemonctl` directory, if it is empty now
    return left


def _remove_tree(top: str, rmdir: Rmdir) -> list[str]:
    if not os.path.isdir(top):
        return []
    left: list[str] = []
    for dirpath, _, _ in sorted(os.walk(top), key=lambda entry: -entry[0].count("/")):
        try:
            rmdir(dirpath)
        except FileNotFoundError:
            pass
        except OSError:
            left.append(dirpath)
    return left


def _remove_dirs(paths: Iterable[str], rmdir: Rmdir = os.rmdir) -> None:
    for path in paths:
        try:
            rmdir(path)
        except OSError:
            pass  # not empty (another daemon's), busy, or gone


def join(paths: tuple[str, ...]) -> None:
    """Move the calling process into each cgroup of `paths` (in the grandchild, before its exec)."""
    for path in paths:
        cgroupfs.write(f"{path}/cgroup.procs", "0")
