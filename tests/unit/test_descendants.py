"""Without a cgroup: the descendants that left the daemon's group, found from one /proc snapshot."""

from daemonctl.proc.descendants import Found, find, still_child
from daemonctl.proc.procfs import Stat


def st(pid: int, ppid: int, pgid: int, state: str = "S") -> Stat:
    return Stat(pid, state, ppid, pgid, pgid, 0, 100)


# 10 leads group 10; 11 is in it; 12 called setsid (a child of 10); 13 is 12's child in 12's
# session; 14 double-forked away (init's child now); 15 is someone else's; 16 a zombie child.
TABLE = [st(1, 0, 1), st(10, 1, 10), st(11, 10, 10), st(12, 10, 12), st(13, 12, 12), st(14, 1, 14),
         st(15, 1, 15), st(16, 10, 16, "Z")]


def test_finds_the_children_that_left_the_group_and_theirs():
    found = find({10, 11}, lambda s: s.pgid != 10, TABLE)
    assert sorted(found) == [Found(12, 10), Found(13, 12)]


def test_what_double_forked_away_or_is_anothers_is_out_of_reach():
    pids = {f.pid for f in find({10}, lambda s: s.pgid != 10, TABLE)}
    assert 14 not in pids and 15 not in pids and 16 not in pids  # nor a zombie, which is gone already


def test_descendants_inside_the_group_are_walked_through_but_not_returned():
    table = [st(10, 1, 10), st(11, 10, 10), st(20, 11, 20)]
    assert find({10}, lambda s: s.pgid != 10, table) == [Found(20, 11)]


def test_still_child_is_checked_again_against_a_fake_proc(tmp_path):
    def write(pid: int, ppid: int, state: str = "S", uid: int = 0) -> None:
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(f"{pid} (x) {state} {ppid} {pid} {pid} 0 " + "0 " * 14 + "100 0\n")
        (tmp_path / str(pid) / "status").write_text(f"Name:\tx\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\n")

    write(12, 10)
    write(13, 1)  # reparented meanwhile: its PID may be anyone's now
    write(14, 10, "Z")
    write(15, 10, uid=1000)
    proc = str(tmp_path)
    assert still_child(Found(12, 10), None, proc)
    assert not still_child(Found(13, 12), None, proc)
    assert not still_child(Found(14, 10), None, proc)
    assert not still_child(Found(99, 10), None, proc)
    assert still_child(Found(15, 10), 1000, proc) and not still_child(Found(12, 10), 1000, proc)
