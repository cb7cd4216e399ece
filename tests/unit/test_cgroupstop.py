"""The stop loop through a cgroup, on a fake tree: who gets which signal, forks during a send,
cgroup.kill for KILL, SIGCONT after TERM, and the wait for cgroup.events to say empty."""

import errno
import os
import signal
from pathlib import Path

import pytest
from cgroup_fakes import fake_mkdir

from daemonctl.proc import cgroupfs, cgroupstop
from daemonctl.proc.cgroupfs import Cgroup
from daemonctl.proc.cgroupstop import CgroupMembers
from daemonctl.schedule import parse_schedule, run


class FakeDaemon:
    """A cgroup D with a supervisor and a program leaf, whose processes 'exit' when told to."""

    def __init__(self, root: Path, program: list[int], supervisor: list[int] = (), ignores_term: bool = False) -> None:
        self.d = root / "ab.web"
        fake_mkdir(str(self.d))
        fake_mkdir(str(self.d / "program"))
        fake_mkdir(str(self.d / "supervisor"))
        self.pids = {"program": list(program), "supervisor": list(supervisor)}
        self.sent: list[tuple[int, int]] = []
        self.ignores_term = ignores_term
        self.spawn_on_first_term: list[int] = []
        self.now = 0.0
        self.waits: list[float] = []
        self.sync()

    @property
    def cgroup(self) -> Cgroup:
        return Cgroup(str(self.d), "/daemonctl/ab.web")

    def sync(self) -> None:
        for leaf, pids in self.pids.items():
            (self.d / leaf / "cgroup.procs").write_text("".join(f"{p}\n" for p in pids))
        alive = any(self.pids.values())
        (self.d / "cgroup.events").write_text(f"populated {int(alive)}\nfrozen 0\n")

    def send_one(self, pid: int, sig: int) -> bool:
        self.sent.append((pid, sig))
        if sig == signal.SIGTERM and self.spawn_on_first_term:
            self.pids["program"] += self.spawn_on_first_term  # forked while TERM was being sent
            self.spawn_on_first_term = []
            self.sync()
        return True

    def waiter(self, fd: int, timeout: float) -> None:
        """The kernel's side: the signalled processes exit, then cgroup.events changes."""
        self.waits.append(timeout)
        fatal = {signal.SIGKILL} | (set() if self.ignores_term else {signal.SIGTERM, signal.SIGHUP})
        gone = {pid for pid, sig in self.sent if sig in fatal}
        if (self.d / "cgroup.kill").read_text() == "1":
            gone |= {p for pids in self.pids.values() for p in pids}
        for leaf in self.pids:
            self.pids[leaf] = [p for p in self.pids[leaf] if p not in gone]
        self.sync()
        if any(self.pids.values()):
            self.now += timeout  # nothing exited: the whole timeout passes

    def members(self, **kw) -> CgroupMembers:
        return CgroupMembers(self.cgroup, clock=lambda: self.now, waiter=self.waiter, send_one=self.send_one, **kw)


def test_term_reaches_every_process_of_every_leaf_then_sigcont(tmp_path):
    fake = FakeDaemon(tmp_path, program=[10, 11, 12], supervisor=[9])
    fake.members().send(signal.SIGTERM)
    assert sorted(p for p, s in fake.sent if s == signal.SIGTERM) == [9, 10, 11, 12]
    assert sorted(p for p, s in fake.sent if s == signal.SIGCONT) == [9, 10, 11, 12]
    assert fake.sent.index((10, signal.SIGCONT)) > fake.sent.index((12, signal.SIGTERM))


def test_processes_forked_during_the_send_get_it_too(tmp_path):
    fake = FakeDaemon(tmp_path, program=[10])
    fake.spawn_on_first_term = [20, 21]
    fake.members().send(signal.SIGTERM)
    assert sorted(p for p, s in fake.sent if s == signal.SIGTERM) == [10, 20, 21]


def test_kill_goes_through_cgroup_kill_and_signals_no_one_by_one(tmp_path):
    fake = FakeDaemon(tmp_path, program=[10, 11])
    fake.members().send(signal.SIGKILL)
    assert (fake.d / "cgroup.kill").read_text() == "1"
    assert fake.sent == []


def test_kill_without_cgroup_kill_signals_each_and_sends_no_sigcont(tmp_path):
    fake = FakeDaemon(tmp_path, program=[10, 11])
    (fake.d / "cgroup.kill").unlink()
    fake.members().send(signal.SIGKILL)
    assert sorted(fake.sent) == [(10, signal.SIGKILL), (11, signal.SIGKILL)]


def test_wait_gone_returns_once_cgroup_events_says_empty(tmp_path):
    fake = FakeDaemon(tmp_path, program=[10, 11])
    members = fake.members()
    members.send(signal.SIGTERM)
    assert members.wait_gone(5.0)
    assert fake.waits == [5.0]  # one wait, woken by the event: no polling tick


def test_wait_gone_of_an_empty_or_removed_cgroup_is_immediate(tmp_path):
    fake = FakeDaemon(tmp_path, program=[])
    assert fake.members().wait_gone(5.0) and fake.waits == []
    gone = CgroupMembers(Cgroup(str(tmp_path / "gone"), "/gone"), waiter=fake.waiter)
    assert gone.wait_gone(5.0)


def test_a_schedule_runs_to_kill_for_processes_that_ignore_term(tmp_path):
    fake = FakeDaemon(tmp_path, program=[10, 11], ignores_term=True)
    assert run(parse_schedule("TERM/3/KILL/5"), fake.members().send, fake.members().wait_gone)
    assert fake.now == 3.0  # TERM's wait ran out, KILL's did not
    assert (fake.d / "cgroup.kill").read_text() == "1"
    assert not any(fake.pids.values())


def test_a_schedule_that_never_kills_reports_failure(tmp_path):
    fake = FakeDaemon(tmp_path, program=[10], ignores_term=True)
    members = fake.members()
    assert not run(parse_schedule("TERM/2"), members.send, members.wait_gone)
    assert members.members() == [10]


@pytest.mark.parametrize("sig", [signal.SIGSTOP, signal.SIGCONT])
def test_no_sigcont_after_signals_that_stop_or_continue(tmp_path, sig):
    fake = FakeDaemon(tmp_path, program=[10])
    fake.members().send(sig)
    assert fake.sent == [(10, sig)]


# A cgroup removed (rmdir, by `stop` of its daemon) while one of its files is being opened, or
# after it was opened, answers ENODEV, not ENOENT. A set's supervisor clearing the cgroup of an
# instance that `stop NAME@i` removes meanwhile died of it, leaving the other instances unsupervised.
def enodev(*args, **kwargs):
    raise OSError(errno.ENODEV, os.strerror(errno.ENODEV))


def test_wait_gone_of_a_cgroup_removed_while_waited_on_is_true(tmp_path, monkeypatch):
    fake = FakeDaemon(tmp_path, program=[10])
    read = os.pread
    removed = []

    def pread(fd, size, offset):
        return enodev() if removed else read(fd, size, offset)

    def waiter(fd, timeout):
        removed.append(fd)  # meanwhile its program ended and `stop` removed the cgroup

    monkeypatch.setattr(cgroupstop.os, "pread", pread)
    members = CgroupMembers(fake.cgroup, clock=lambda: fake.now, waiter=waiter, send_one=fake.send_one)
    assert members.wait_gone(5.0) and removed


def test_wait_gone_of_a_cgroup_being_removed_as_it_is_opened_is_true(tmp_path, monkeypatch):
    fake = FakeDaemon(tmp_path, program=[10])
    monkeypatch.setattr(cgroupstop.os, "open", enodev)
    assert fake.members().wait_gone(5.0) and fake.waits == []


def test_kill_of_a_cgroup_being_removed_signals_no_one(tmp_path, monkeypatch):
    fake = FakeDaemon(tmp_path, program=[10, 11])
    monkeypatch.setattr(cgroupfs, "write", enodev)
    fake.members().send(signal.SIGKILL)
    assert fake.sent == []


def test_the_members_of_a_cgroup_being_removed_are_none(tmp_path, monkeypatch):
    fake = FakeDaemon(tmp_path, program=[10, 11])
    monkeypatch.setattr(cgroupfs, "open", enodev, raising=False)  # the builtin, as procs() calls it
    assert fake.members().members() == []
    assert cgroupfs.populated(str(fake.d)) is None
