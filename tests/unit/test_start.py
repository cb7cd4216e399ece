"""start.start_locked and start with the spawn injected: what is committed when, and undone.

No daemon is started: the stand-in spawner reports the identity of a plain `sleep`
child of this test (what a real spawn reports once its grandchild is set up), or fails
the way spawn.spawn does.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from daemonctl import start as start_mod
from daemonctl.errors import Failure, ProgramNotFound
from daemonctl.options import StartOptions
from daemonctl.proc.procfs import Identity
from daemonctl.proc.spawn import SpawnError
from daemonctl.start import start, start_locked
from daemonctl.store import record as record_mod
from daemonctl.store.record import Record, StartSpec
from daemonctl.store.statedir import StateDir

SLEEP = shutil.which("sleep") or "/bin/sleep"


@pytest.fixture
def state(tmp_path: Path) -> StateDir:
    s = StateDir(str(tmp_path / "state"))
    s.ensure()
    return s


@pytest.fixture
def program() -> Iterator[Identity]:
    """A live process to stand for the daemon's program."""
    # It leads its session, as a daemon does: a session led from outside our
    # PID namespace reads as sid 0, which no record accepts.
    child = subprocess.Popen([SLEEP, "60"], start_new_session=True)
    ident = Identity.of(child.pid)
    assert ident is not None
    yield ident
    child.kill()
    child.wait()


def spec_in(state: StateDir, *args: str) -> StartSpec:
    log = state.log("d")
    return StartSpec([SLEEP, *(args or ("60",))], SLEEP, state.pidfile("d"), log, log)


def spawner(ident: Identity, fail: SpawnError | None = None, before_ready: bool = False) -> Callable[..., Identity]:
    """A stand-in for spawn.spawn: reports `ident` to on_ready, then succeeds or raises `fail`."""
    def spawn(launch: object, on_ready: Callable[[Identity], None] | None = None,
              meanwhile: Callable[[], object] | None = None) -> Identity:
        if meanwhile is not None:
            meanwhile()
        if fail is not None and before_ready:
            raise fail
        assert on_ready is not None
        on_ready(ident)
        if fail is not None:
            raise fail
        return ident
    return spawn


def never(*args: object, **kw: object) -> Identity:
    raise AssertionError("spawned although the daemon runs")


def files(state: StateDir) -> set[str]:
    return set(os.listdir(state.path))


def test_the_record_is_committed_before_the_pidfile(state, program, monkeypatch):
    spec = spec_in(state)
    seen: dict[str, tuple[bool, bool]] = {}
    real_crash_point = start_mod.crash_point

    def crash_point(step: str) -> None:
        # What a daemonctl killed at this step would leave: (record names the program, pidfile does).
        rec = record_mod.load(state.record("d"), "d")
        pidfile = Path(spec.pidfile)
        seen[step] = (rec is not None and rec.identity == program,
                      pidfile.exists() and pidfile.read_text() == f"{program.pid}\n")
        real_crash_point(step)

    monkeypatch.setattr(start_mod, "crash_point", crash_point)
    result = start_locked(state, "d", spec, None, spawner=spawner(program))
    assert seen["start:ready"] == (False, False)
    assert seen["start:record"] == (True, False)  # never a pidfile naming a process no record knows
    assert seen["start:pidfile"] == (True, True)
    assert (result.pid, result.already_running, result.supervisor_pid) == (program.pid, False, None)
    rec = record_mod.load(state.record("d"), "d")
    assert rec is not None and rec.state == record_mod.RUNNING and rec.identity == program
    assert files(state) == {"d.json", "d.pid", "d.log"}  # no temporary file left


def test_a_spawn_that_fails_after_the_commit_puts_the_old_record_back(state, program):
    spec = spec_in(state)
    old = Record("d", spec_in(state, "30")).stopped()
    record_mod.save(state.record("d"), old)
    before = Path(state.record("d")).read_bytes()
    with pytest.raises(ProgramNotFound, match=f"cannot execute {SLEEP}"):
        start_locked(state, "d", spec, old, spawner=spawner(program, SpawnError("exec", errno.ENOENT)))
    assert Path(state.record("d")).read_bytes() == before
    assert files(state) == {"d.json"}  # no pidfile, and the log this start created is gone


def test_a_spawn_that_fails_before_the_commit_leaves_nothing(state, program):
    spec = spec_in(state)._replace(chdir="/nonexistent")
    fail = SpawnError("chdir", errno.ENOENT)
    with pytest.raises(Failure, match="cannot change directory to /nonexistent"):
        start_locked(state, "d", spec, None, spawner=spawner(program, fail, before_ready=True))
    assert files(state) == set()


def test_a_failed_start_keeps_a_log_that_was_there(state, program):
    Path(state.log("d")).write_text("earlier run\n")
    with pytest.raises(ProgramNotFound):
        start_locked(state, "d", spec_in(state), None, spawner=spawner(program, SpawnError("exec", errno.ENOENT)))
    assert files(state) == {"d.log"} and Path(state.log("d")).read_text() == "earlier run\n"


def test_a_running_daemon_is_not_started_again(state, program):
    spec = spec_in(state)
    rec = Record("d", spec).running(program)
    record_mod.save(state.record("d"), rec)
    Path(spec.pidfile).write_text(f"{program.pid}\n")
    before = Path(state.record("d")).read_bytes()
    result = start_locked(state, "d", spec_in(state, "99"), rec, spawner=never)
    assert (result.pid, result.already_running, result.spec) == (program.pid, True, spec)
    assert Path(state.record("d")).read_bytes() == before


def test_a_dead_record_is_started_again(state, program):
    spec = spec_in(state)
    gone = Identity(program.pid, program.starttime + 1, program.boot_id)  # its PID, another process
    rec = Record("d", spec).running(gone)
    record_mod.save(state.record("d"), rec)
    result = start_locked(state, "d", spec, rec, spawner=spawner(program))
    assert (result.pid, result.already_running) == (program.pid, False)
    new = record_mod.load(state.record("d"), "d")
    assert new is not None and new.identity == program


def test_start_refuses_another_command_under_a_running_name(state, program):
    spec = spec_in(state)
    record_mod.save(state.record("d"), Record("d", spec).running(program))
    Path(spec.pidfile).write_text(f"{program.pid}\n")
    with pytest.raises(Failure, match=r"d is already running another command \(pid \d+: .*sleep 60\)"):
        start(state, StartOptions(name="d", program=(SLEEP, "61")))
    same = start(state, StartOptions(name="d", program=("sleep", "60")))  # argv[0] spelled otherwise
    assert (same.pid, same.already_running) == (program.pid, True)
    assert start(state, StartOptions(name="d")).already_running  # no PROGRAM: whatever it runs


def test_without_a_spawner_the_modules_spawn_is_looked_up_at_the_call(state, program, monkeypatch):
    """The default is spawn as the module has it when start runs: a test that replaces
    start.spawn (test_fuzz_cli does) never gets a real daemon started."""
    monkeypatch.setattr(start_mod, "spawn", spawner(program))
    result = start_locked(state, "d", spec_in(state), None)
    assert (result.pid, result.already_running) == (program.pid, False)


@pytest.mark.parametrize("elsewhere", [False, True])
def test_the_directory_is_synced_after_each_rename_it_holds(state, program, monkeypatch, tmp_path, elsewhere):
    """Every rename is followed by an fsync of its directory before the program may exec; record and
    pidfile in one directory share one, after both renames (their order kept by the journal)."""
    from daemonctl.store import atomic

    events: list[tuple[str, str]] = []
    real_rename, real_sync = atomic.os.rename, atomic.fsync_dir

    def rename(src: str, dst: str) -> None:
        events.append(("rename", os.path.basename(dst)))
        real_rename(src, dst)

    def sync(directory: str) -> None:
        events.append(("sync", directory))
        real_sync(directory)

    monkeypatch.setattr(atomic.os, "rename", rename)
    monkeypatch.setattr(atomic, "fsync_dir", sync)
    spec = spec_in(state)
    if elsewhere:
        (tmp_path / "run").mkdir()
        spec = spec._replace(pidfile=str(tmp_path / "run" / "d.pid"))
    start_locked(state, "d", spec, None, spawner=spawner(program))
    if elsewhere:
        assert events == [("rename", "d.json"), ("sync", state.path), ("rename", "d.pid"), ("sync", str(tmp_path / "run"))]
    else:
        assert events == [("rename", "d.json"), ("rename", "d.pid"), ("sync", state.path)]
