"""Adopting a self-daemonized program's daemon (proc/adopt.py), on a /proc tree of the test's own."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from daemonctl.proc import adopt
from daemonctl.proc.adopt import Host, NotAdopted, PidfileUnreadable
from daemonctl.proc.procfs import boot_id

ME = 500


class Tree:
    """A fake /proc the test changes as time passes (`at[t]` runs once the clock reaches t)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.now = 0.0
        self.at: list[tuple[float, Callable[[], None]]] = []
        self.reaped: list[int] = []
        (root / "self").mkdir()

    def put(self, pid: int, ppid: int, state: str = "S", pgid: int | None = None, sid: int | None = None,
            start: int = 1000) -> None:
        d = self.root / str(pid)
        d.mkdir(exist_ok=True)
        pgid = pid if pgid is None else pgid
        sid = pgid if sid is None else sid
        (d / "stat").write_text(f"{pid} (p) {state} {ppid} {pgid} {sid} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 {start} 0 0")

    def drop(self, pid: int) -> None:
        (self.root / str(pid) / "stat").unlink()
        (self.root / str(pid)).rmdir()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.001)
        due = [(t, f) for t, f in self.at if t <= self.now]
        self.at = [(t, f) for t, f in self.at if t > self.now]
        for _, f in due:
            f()

    def reap(self, pid: int) -> None:
        self.reaped.append(pid)
        self.drop(pid)

    def host(self, member: Callable[[int], bool] | None = None,
             hold: Callable[[int], Iterator[Callable[[], bool]]] | None = None,
             others: frozenset[tuple[int, int]] = frozenset(), since: int = 0) -> Host:
        def held(pid: int) -> Iterator[Callable[[], bool]]:
            yield lambda: (self.root / str(pid)).exists()

        return Host(me=ME, proc=str(self.root), clock=self.clock, sleep=self.sleep,
                    hold=hold or held, member=member, reap=self.reap, others=others, since=since)


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    t = Tree(tmp_path)
    t.put(ME, 1)
    t.put(77, 1, start=10)  # a stranger: init's child
    return t


def test_the_single_process_left_behind_is_adopted_once_settled(tree):
    tree.put(601, ME, pgid=601, sid=601, start=2000)
    adopted = adopt.single(tree.host(), deadline=30)
    assert adopted.identity == (601, 2000, boot_id())
    assert (adopted.sid, adopted.pgid) == (601, 601)
    assert tree.now >= adopt.SETTLE  # not taken before the children settled


def test_a_double_fork_adopts_the_grandchild_and_reaps_the_intermediate(tree):
    tree.put(601, ME, start=2000)  # the intermediate: forks the daemon, then exits

    def fork_and_exit() -> None:
        tree.put(602, ME, start=2001)  # re-parented to us, the subreaper
        tree.put(601, ME, state="Z", start=2000)

    tree.at.append((0.1, fork_and_exit))
    adopted = adopt.single(tree.host(), deadline=30)
    assert adopted.identity.pid == 602
    assert tree.reaped == [601]


def test_nothing_left_behind_fails_at_once(tree):
    with pytest.raises(NotAdopted, match="left no process behind") as err:
        adopt.single(tree.host(), deadline=30)
    assert err.value.left == []
    assert tree.now == 0


def test_two_processes_left_behind_need_pid_from_and_are_both_handed_back(tree):
    tree.put(601, ME, start=2000)
    tree.put(602, ME, start=2001)
    with pytest.raises(NotAdopted, match=r"left 2 processes behind \(pid 601 602\).*--pid-from") as err:
        adopt.single(tree.host(), deadline=30)
    assert sorted(a.identity.pid for a in err.value.left) == [601, 602]


def pidfile(values: list[int | None | Exception]) -> Callable[[], int | None]:
    """A pidfile reader giving `values` in turn, then the last one for ever."""
    def read() -> int | None:
        value = values.pop(0) if len(values) > 1 else values[0]
        if isinstance(value, Exception):
            raise value
        return value

    return read


def test_the_pidfile_names_our_child(tree):
    tree.put(601, ME, start=2000)
    adopted = adopt.named(tree.host(), "/run/x.pid", pidfile([601]), deadline=30)
    assert adopted.identity.pid == 601


def test_waits_for_the_pidfile_to_appear(tree):
    tree.put(601, ME, start=2000)
    adopted = adopt.named(tree.host(), "/run/x.pid", pidfile([None, None, PidfileUnreadable("is empty"), 601]), 30)
    assert adopted.identity.pid == 601
    assert tree.now > 0


def test_a_pidfile_naming_a_stranger_fails_at_once_and_hands_back_only_our_children(tree):
    tree.put(601, ME, start=2000)
    with pytest.raises(NotAdopted, match="names pid 77, which is not a process the program started") as err:
        adopt.named(tree.host(), "/run/x.pid", pidfile([77]), deadline=30)
    assert [a.identity.pid for a in err.value.left] == [601]
    assert tree.now == 0


def test_an_earlier_runs_pid_is_waited_past(tree):
    tree.put(601, ME, start=2000)
    adopted = adopt.named(tree.host(), "/run/x.pid", pidfile([77, 77, 601]), deadline=30, before=77)
    assert adopted.identity.pid == 601


def test_a_pidfile_never_written_times_out(tree):
    with pytest.raises(NotAdopted, match="pidfile /run/x.pid was never written"):
        adopt.named(tree.host(), "/run/x.pid", pidfile([None]), deadline=2)
    assert tree.now >= 2


def test_a_dead_pid_is_waited_on_then_reported(tree):
    with pytest.raises(NotAdopted, match="names pid 4242, which is not running"):
        adopt.named(tree.host(), "/run/x.pid", pidfile([4242]), deadline=1)


def test_a_symlinked_pidfile_is_refused_at_once(tree):
    with pytest.raises(NotAdopted, match="is a symbolic link") as err:
        adopt.named(tree.host(), "/run/x.pid", pidfile([PidfileUnreadable("is a symbolic link", final=True)]), 30)
    assert err.value.trust


def test_a_grandchild_named_before_its_parent_exits_is_waited_for(tree):
    tree.put(601, ME, start=2000)
    tree.put(602, 601, start=2001)  # written by the daemon before the intermediate exited

    def intermediate_exits() -> None:
        tree.drop(601)
        tree.put(602, ME, start=2001)

    tree.at.append((0.5, intermediate_exits))
    adopted = adopt.named(tree.host(), "/run/x.pid", pidfile([602]), deadline=30)
    assert adopted.identity.pid == 602
    assert tree.now >= 0.5


def test_a_member_of_the_daemons_cgroup_is_adopted_without_being_our_child(tree):
    tree.put(603, 1, start=2000)
    assert tree.host().verify(603) is None
    assert tree.host(member=lambda pid: pid == 603).verify(603) is not None


def test_a_child_that_never_verifies_ends_at_the_deadline(tree):
    tree.put(601, ME, start=2000)

    def gone(pid: int) -> Iterator[Callable[[], bool]]:
        yield lambda: False

    with pytest.raises(NotAdopted, match="left no process behind"):
        adopt.single(tree.host(hold=gone), deadline=2)


def test_a_process_gone_while_held_is_not_adopted(tree):
    tree.put(601, ME, start=2000)

    def gone(pid: int) -> Iterator[Callable[[], bool]]:
        yield lambda: False  # the pidfd says it exited after the stat was read

    assert tree.host(hold=gone).verify(601) is None


def test_a_scan_that_reaped_an_intermediate_looks_again(tree):
    """The intermediate exited while /proc was read: the daemon it forked was missed."""
    tree.put(601, ME, state="Z", start=2000)
    tree.at.append((0.01, lambda: tree.put(602, ME, start=2001)))  # seen by the next scan
    adopted = adopt.single(tree.host(), deadline=30)
    assert adopted.identity.pid == 602 and tree.reaped == [601]


def test_left_behind_looks_again_after_reaping(tree):
    """A scan that reaped an intermediate may have missed the child it forked: scanned again."""
    tree.put(601, ME, state="Z", start=2000)

    def reap(pid: int) -> None:
        tree.reap(pid)
        tree.put(602, ME, start=2001)  # forked before 601 exited, after the listing was read

    host = tree.host()
    host.reap = reap
    assert [a.identity.pid for a in adopt.left_behind(host)] == [602]


def test_children_from_before_the_program_are_never_its_own(tree):
    """A set's earlier instance, adopted by the same daemonctl, is our child too."""
    tree.put(590, ME, start=1500)  # the earlier instance's daemon
    tree.put(601, ME, start=2000)
    host = tree.host(others=frozenset({(590, 1500)}), since=1900)
    assert adopt.single(host, deadline=30).identity.pid == 601
    assert [a.identity.pid for a in adopt.left_behind(host)] == [601]
    assert host.verify(590) is None
    tree.put(595, ME, start=1800)  # started before the program: not its own, though not in `others`
    assert host.verify(595) is None
    assert sorted(st.pid for st in host.children()) == [601]
