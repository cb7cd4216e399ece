"""Without a cgroup: the daemon's descendants that left its process group (setsid, setpgid), found in /proc.

A process that calls setsid() leaves the group that stop signals, and once its
parent exits it is init's child and nothing links it to the daemon any more.
So stop looks for them at every signal it sends, while the chain of parents
still leads to a process of the daemon, and holds each by a pidfd from then on.
What double-forked away before that is out of reach: only a cgroup holds it.
"""

from collections.abc import Callable, Iterable

from daemonctl.proc.procfs import PROC, Stat, read_stat, uids
from daemonctl.speedups import NamedTuple


class Found(NamedTuple):
    pid: int
    parent: int  # the process it was found under, checked again once a pidfd holds it


def find(roots: Iterable[int], outside: Callable[[Stat], bool], stats: Iterable[Stat]) -> list[Found]:
    """The live descendants of `roots` for which `outside(stat)` holds (those the group signal misses),
    from one snapshot of the process table `stats`. Descendants of such a process count too."""
    children: dict[int, list[Stat]] = {}
    for st in stats:
        if not st.zombie:
            children.setdefault(st.ppid, []).append(st)
    found: list[Found] = []
    seen = set(roots)
    todo = list(seen)
    while todo:
        parent = todo.pop()
        for st in children.get(parent, []):
            if st.pid in seen:
                continue
            seen.add(st.pid)
            todo.append(st.pid)
            if outside(st):
                found.append(Found(st.pid, parent))
    return found


def still_child(found: Found, uid: int | None, proc: str = PROC) -> bool:
    """Checked after a pidfd was opened on it: still the child of the process it was found under
    (so not a PID reused meanwhile) and, for a daemon run as a user, running as that user."""
    st = read_stat(found.pid, proc)
    if st is None or st.zombie or st.ppid != found.parent:
        return False
    if uid is None:
        return True
    ids = uids(found.pid, proc)
    return ids is not None and uid in (ids[0], ids[2])
