"""Which processes are provably a daemon's: decided before any signal reaches a group.

A daemon's program P is started by an intermediate process S that called setsid
and forked it; P then leads its own process group P, in session S. The record
keeps P's start time and boot id and the session S.

While the leader P lives (held by a verified pidfd), group P is its group. Once
it is gone, a process is taken for one of its leftovers only if it is in group P
AND in session S, of this boot, started no earlier than P, and (when the daemon
runs as another user than root) runs as that user. Why a stranger cannot meet
that: the kernel keeps a PID number allocated while any live process uses it as
its process group or session id. So while anything of the daemon lives in
session S, no new process can get PID S, hence nobody can create a session S,
nor a group P inside it. A process with pgid P and sid S is therefore the
daemon's, unless every process of the daemon had ended and then someone got PID
S, called setsid, and got PID P inside that new session: two PIDs reused in a
given order and relation, which chance does not produce. A local user forcing
it by cycling PIDs reaches, for a daemon with --user, only processes running as
that user (the uid check), which the user could signal alone; for a daemon run
as root, only processes of the session that user built. A record not marked
running, or from another boot, proves nothing, and leads to no signal at all.

A daemon adopted with --forking may instead sit in a group G of a session S that
the program created (fork, setsid, fork: G = S = the PID of the intermediate that
exited). The record then keeps G as `pgid`, and the same holds with G for P: G and
S stay allocated while anything of the daemon lives in them, and only processes
started no earlier than the daemon count.
"""


from collections.abc import Callable, Iterator

from daemonctl.proc.procfs import PROC, Stat, boot_id, read_stat, uids
from daemonctl.speedups import NamedTuple
from daemonctl.states import ACTIVE
from daemonctl.store.record import Record


class GroupProof(NamedTuple):
    """What a process must show to be taken for one of the daemon's."""

    pgid: int  # the leader's PID: it leads its own group
    sid: int | None  # the session it was started in; None: only the live leader proves anything
    since: int  # the leader's start time (clock ticks since boot)
    uid: int | None = None  # the daemon's user when it is not root: members must run as it

    def owns(self, st: Stat | None, ids: tuple[int, int, int] | None = None) -> bool:
        """True when the process of `st` (with user ids `ids`) is provably the daemon's."""
        if st is None or st.zombie or self.sid is None:
            return False
        if st.pgid != self.pgid or st.sid != self.sid or st.starttime < self.since:
            return False
        if self.uid is None:
            return True
        # Real or saved uid: the ones kill(2) checks, so the daemon's user could signal it too.
        return ids is not None and self.uid in (ids[0], ids[2])


def proof_for(rec: Record | None, uid: int | None, current_boot: Callable[[], str] = boot_id) -> GroupProof | None:
    """The proof of the daemon of `rec` (the program's group), or None: signal no group, no orphan.

    Only a record that says the daemon runs (or waits to restart it) and that was
    written in this boot proves anything. `uid` is the daemon's user if not root.
    """
    if rec is None or rec.state not in ACTIVE:
        return None
    if rec.pid is None or rec.starttime is None or rec.boot_id is None or rec.boot_id != current_boot():
        return None
    return GroupProof(rec.pgid if rec.pgid is not None else rec.pid, rec.sid, rec.starttime, uid)


def scan(proc: str = PROC) -> Iterator[Stat]:
    """Every process's stat, in /proc order."""
    import os

    for entry in os.listdir(proc):
        if entry.isdigit():
            st = read_stat(int(entry), proc)
            if st is not None:
                yield st


def members(proof: GroupProof, proc: str = PROC, exclude: int | None = None) -> list[int]:
    """PIDs of the live processes that `proof` shows to be the daemon's (`exclude` left out)."""
    if proof.sid is None:
        return []
    found = []
    for st in scan(proc):
        if st.pid != exclude and st.pgid == proof.pgid and proof.owns(st, uids(st.pid, proc) if proof.uid is not None else None):
            found.append(st.pid)
    return found


def still_owned(proof: GroupProof, pid: int, proc: str = PROC) -> bool:
    """Checked again after a pidfd was opened on `pid`: is it (still) the daemon's?"""
    return proof.owns(read_stat(pid, proc), uids(pid, proc) if proof.uid is not None else None)
