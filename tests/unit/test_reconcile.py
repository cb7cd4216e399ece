"""reconcile.inspect: record, pidfile and /proc reconciled, on a /proc tree of the test's own.

Every process here is a /proc/PID/stat file under tmp_path (no process runs), and the
pidfile a real file: each state `status` and `stop` act on is built exactly.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from daemonctl import reconcile as daemon_mod
from daemonctl.errors import StatusUnknown
from daemonctl.proc.procfs import Identity, boot_id
from daemonctl.reconcile import Target, inspect
from daemonctl.states import DEAD, EXITED, FAILED, NOT_RUNNING, RESTARTING, RUNNING, STOPPED
from daemonctl.store.record import Record, StartSpec
from daemonctl.store.trust import Untrusted

PROGRAM, SUPERVISOR, OTHER = 4242, 4240, 5151
T0 = 1000  # start time (ticks since boot) of the processes the record names


class FakeProc:
    """A /proc with the processes a test puts in it: only their stat files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir()

    @property
    def path(self) -> str:
        return str(self.root)

    def run(self, pid: int, starttime: int = T0, state: str = "S") -> Identity:
        # Fields 3..22 of proc(5): state, ppid, pgrp, session, tty_nr, 14 others, starttime.
        fields = [state, "1", str(pid), str(pid), "0"] + ["0"] * 14 + [str(starttime)] + ["0"] * 10
        (self.root / str(pid)).mkdir(exist_ok=True)
        (self.root / str(pid) / "stat").write_text(f"{pid} (some (odd) name) {' '.join(fields)}\n")
        return Identity(pid, starttime, boot_id())


@pytest.fixture
def proc(tmp_path: Path) -> FakeProc:
    return FakeProc(tmp_path / "proc")


@pytest.fixture
def pidfile(tmp_path: Path) -> Path:
    return tmp_path / "d.pid"


def spec(pidfile: Path, respawn: str | None = None) -> StartSpec:
    return StartSpec(["sleep", "60"], "/bin/sleep", str(pidfile), "/dev/null", "/dev/null", respawn=respawn)


def plain(pidfile: Path, state: str = RUNNING, pid: int = PROGRAM, starttime: int = T0, boot: str | None = None) -> Record:
    return Record("d", spec(pidfile), state, pid, starttime, boot or boot_id())


def supervised(pidfile: Path, state: str = RUNNING, pid: int | None = PROGRAM) -> Record:
    return Record("d", spec(pidfile, "always"), state, pid, T0 if pid else None, boot_id(),
                  supervisor_pid=SUPERVISOR, supervisor_starttime=T0 - 5)


def look(proc: FakeProc, pidfile: Path, record: Record | None, pid_in_file: int | None) -> daemon_mod.Daemon:
    if pid_in_file is not None:
        pidfile.write_text(f"{pid_in_file}\n")
    return inspect(Target("d", str(pidfile), record), proc=proc.path)


# ----------------------------------------------------------------- plain daemons

def test_running_when_the_recorded_process_lives(proc, pidfile):
    ident = proc.run(PROGRAM)
    d = look(proc, pidfile, plain(pidfile), PROGRAM)
    assert (d.state, d.pid, d.pidfile_pid, d.identity, d.stale) == (RUNNING, PROGRAM, PROGRAM, ident, False)
    assert d.active and d.pidfile_stat is not None


def test_the_record_names_the_daemon_whatever_the_pidfile_says(proc, pidfile):
    ident = proc.run(PROGRAM)
    proc.run(OTHER)
    d = look(proc, pidfile, plain(pidfile), OTHER)
    assert (d.state, d.pid, d.pidfile_pid, d.identity) == (RUNNING, PROGRAM, OTHER, ident)


def test_dead_when_the_recorded_process_is_gone(proc, pidfile):
    d = look(proc, pidfile, plain(pidfile), PROGRAM)
    assert (d.state, d.pid, d.pidfile_pid, d.identity, d.stale) == (DEAD, PROGRAM, PROGRAM, None, False)
    assert not d.active


def test_a_zombie_is_dead(proc, pidfile):
    proc.run(PROGRAM, state="Z")
    d = look(proc, pidfile, plain(pidfile), PROGRAM)
    assert (d.state, d.identity, d.stale) == (DEAD, None, False)


def test_a_reused_pid_is_stale_not_running(proc, pidfile):
    proc.run(PROGRAM, starttime=T0 + 1)  # another process, started later, got the PID
    d = look(proc, pidfile, plain(pidfile), PROGRAM)
    assert (d.state, d.pid, d.identity, d.stale) == (DEAD, PROGRAM, None, True)
    assert not d.active


def test_a_record_of_another_boot_names_no_live_process(proc, pidfile):
    proc.run(PROGRAM)  # same PID and start time, but the record was written before a reboot
    d = look(proc, pidfile, plain(pidfile, boot="0" * 32), PROGRAM)
    assert (d.state, d.identity, d.stale) == (DEAD, None, True)


def test_stopped_without_a_pidfile(proc, pidfile):
    assert look(proc, pidfile, plain(pidfile, STOPPED), None).state == NOT_RUNNING
    assert look(proc, pidfile, None, None)[1:5] == (NOT_RUNNING, None, None, None)


def test_a_recorded_process_gone_with_its_pidfile_is_stopped(proc, pidfile):
    d = look(proc, pidfile, plain(pidfile), None)
    assert (d.state, d.pid, d.identity) == (NOT_RUNNING, None, None)


def test_a_stopped_record_never_makes_its_old_pid_running(proc, pidfile):
    proc.run(PROGRAM)  # same PID and start time as recorded, but the record says stopped
    d = look(proc, pidfile, plain(pidfile, STOPPED), PROGRAM)
    assert (d.state, d.identity, d.stale) == (DEAD, None, True)


def test_a_pidfile_rewritten_by_the_program_is_foreign_never_stale(proc, pidfile):
    """Issue 14: a program that daemonized itself wrote its own PID there; daemonctl did not."""
    proc.run(OTHER)
    d = look(proc, pidfile, plain(pidfile), OTHER)
    assert (d.state, d.pid, d.identity, d.stale, d.foreign) == (DEAD, OTHER, None, False, True)
    d = look(proc, pidfile, plain(pidfile, STOPPED), OTHER)  # after a stop that left it alone
    assert (d.state, d.stale, d.foreign) == (NOT_RUNNING, False, True)


def test_the_programs_own_pidfile_is_never_daemonctls(proc, pidfile):
    rec = plain(pidfile)._replace(spec=spec(pidfile)._replace(forking=True, pid_from=str(pidfile)))
    assert not daemon_mod.wrote_pidfile(rec, str(pidfile), PROGRAM)
    assert daemon_mod.wrote_pidfile(plain(pidfile), str(pidfile), PROGRAM)
    assert not daemon_mod.wrote_pidfile(plain(pidfile), str(pidfile), OTHER)
    assert daemon_mod.wrote_pidfile(supervised(pidfile), str(pidfile), SUPERVISOR)
    assert daemon_mod.wrote_pidfile(None, str(pidfile), OTHER), "another tool's pidfile, given with -p"
    proc.run(PROGRAM, starttime=T0 + 1)  # its PID reused: still not called stale
    d = look(proc, pidfile, rec, PROGRAM)
    assert (d.state, d.stale, d.foreign) == (DEAD, False, True)


# ----------------------------------------------------------------- a pidfile with no record

def test_foreign_pidfile_of_a_live_process_is_running_by_pid_alone(proc, pidfile):
    ident = proc.run(OTHER, starttime=77)
    d = look(proc, pidfile, None, OTHER)
    assert (d.state, d.pid, d.pidfile_pid, d.identity, d.stale) == (RUNNING, OTHER, OTHER, ident, False)


@pytest.mark.parametrize("zombie", [False, True])
def test_foreign_pidfile_of_a_gone_process_is_dead(proc, pidfile, zombie):
    if zombie:
        proc.run(OTHER, state="Z")
    d = look(proc, pidfile, None, OTHER)
    assert (d.state, d.pid, d.identity, d.stale) == (DEAD, OTHER, None, False)


def test_garbage_in_the_pidfile_is_status_unknown(proc, pidfile):
    pidfile.write_text("twelve\n")
    with pytest.raises(StatusUnknown):
        inspect(Target("d", str(pidfile), plain(pidfile)), proc=proc.path)


def test_a_symlinked_pidfile_is_left_alone_and_the_record_decides(proc, pidfile, tmp_path):
    ident = proc.run(PROGRAM)
    (tmp_path / "elsewhere").write_text(f"{OTHER}\n")
    pidfile.symlink_to(tmp_path / "elsewhere")
    d = inspect(Target("d", str(pidfile), plain(pidfile)), proc=proc.path)
    assert (d.state, d.pid, d.pidfile_pid, d.identity) == (RUNNING, PROGRAM, None, ident)
    assert d.pidfile_note is not None and "left it alone" in d.pidfile_note
    with pytest.raises(Untrusted):
        inspect(Target(None, str(pidfile), None), proc=proc.path)  # nothing else names a daemon


# ----------------------------------------------------------------- --respawn

def test_supervised_running_names_the_program_and_its_supervisor(proc, pidfile):
    prog, sup = proc.run(PROGRAM), proc.run(SUPERVISOR, starttime=T0 - 5)
    d = look(proc, pidfile, supervised(pidfile), SUPERVISOR)
    assert (d.state, d.pid, d.pidfile_pid, d.identity, d.supervisor) == (RUNNING, PROGRAM, SUPERVISOR, prog, sup)


@pytest.mark.parametrize("state", [RUNNING, RESTARTING])
def test_a_live_supervisor_without_its_program_is_restarting(proc, pidfile, state):
    sup = proc.run(SUPERVISOR, starttime=T0 - 5)
    d = look(proc, pidfile, supervised(pidfile, state, pid=None if state == RESTARTING else PROGRAM), SUPERVISOR)
    assert (d.state, d.pid, d.identity, d.supervisor) == (RESTARTING, None, None, sup)
    assert d.active


def test_a_dead_supervisor_with_its_program_alive_is_dead_but_active(proc, pidfile):
    prog = proc.run(PROGRAM)
    d = look(proc, pidfile, supervised(pidfile), SUPERVISOR)
    assert (d.state, d.pid, d.pidfile_pid, d.identity, d.supervisor, d.stale) == (
        DEAD, PROGRAM, SUPERVISOR, prog, None, False)
    assert d.active  # stop still has a program to stop


def test_a_dead_supervisor_whose_pid_was_reused_is_stale(proc, pidfile):
    proc.run(SUPERVISOR, starttime=T0 + 50)
    d = look(proc, pidfile, supervised(pidfile), SUPERVISOR)
    assert (d.state, d.pid, d.identity, d.stale) == (DEAD, SUPERVISOR, None, True)
    assert not d.active


@pytest.mark.parametrize("state", [EXITED, FAILED, STOPPED])
def test_a_supervisor_that_ended_leaves_its_recorded_state(proc, pidfile, state):
    proc.run(PROGRAM)  # what the record still names: not the daemon any more, once it ended
    proc.run(SUPERVISOR, starttime=T0 - 5)
    d = look(proc, pidfile, supervised(pidfile, state), SUPERVISOR)
    assert (d.state, d.pid, d.identity, d.supervisor) == (state, None, None, None)
    assert not d.active


def test_the_real_proc_is_the_default(pidfile):
    """Without `proc`, inspect reads the machine's /proc: this test's own process is alive there."""
    me = Identity.of(os.getpid())
    assert me is not None
    rec = Record("d", spec(pidfile), RUNNING, me.pid, me.starttime, me.boot_id)
    d = inspect(Target("d", str(pidfile), rec))
    assert (d.state, d.identity) == (RUNNING, me)
