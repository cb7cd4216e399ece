"""lock.locked and try_locked: one holder per name across processes, a lock file that stays unless its holder
unlinks it (remove), no state dir made."""

from __future__ import annotations

import fcntl
import os
import select
import stat
import threading
import time
from pathlib import Path

import pytest

from daemonctl.errors import DaemonctlError
from daemonctl.store.lock import acquire, is_current, locked, try_locked, unlink_if_free
from daemonctl.store.writerlock import hold_lock


def blocked_on(path: Path, pid: int) -> bool:
    """True when PID waits for a flock on PATH's inode (a `->` line of /proc/locks)."""
    st = os.stat(path)
    inode = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "->" in fields and str(pid) in fields and inode in fields:
            return True
    return False


def readable(fd: int, timeout: float) -> bool:
    return bool(select.select([fd], [], [], timeout)[0])


def fork_locker(path: Path) -> tuple[int, int]:
    """A child that takes the lock, writes "got" to the returned pipe, and exits; (pid, read end)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            # Only the pipe: a copy of the parent's lock descriptor would hold the parent's lock.
            os.closerange(3, w)
            os.closerange(w + 1, os.sysconf("SC_OPEN_MAX"))
            with locked(path):
                os.write(w, b"got")
        finally:
            os._exit(0)
    os.close(w)
    return pid, r


def test_a_second_process_waits_until_the_first_releases(tmp_path):
    path = tmp_path / "d.lock"
    with locked(path):
        pid, r = fork_locker(path)
        try:
            deadline = time.monotonic() + 30
            # The event: the child is queued on our lock (or, if the lock excludes nothing, it got it).
            while not blocked_on(path, pid) and not readable(r, 0.01):
                assert time.monotonic() < deadline, "the child neither took the lock nor waited for it"
            assert not readable(r, 0), "the child took the lock while this process held it"
        except BaseException:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            raise
    assert readable(r, 30) and os.read(r, 3) == b"got"  # released: the child got it
    os.close(r)
    assert os.waitpid(pid, 0)[1] == 0


def test_the_lock_file_stays_and_is_the_same_file_next_time(tmp_path):
    path = tmp_path / "d.lock"
    with locked(path):
        inode = os.stat(path).st_ino
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert path.exists()  # unlinked, the next locker would lock a new inode beside a waiter on the old
    pid, r = fork_locker(path)
    assert readable(r, 30) and os.read(r, 3) == b"got"
    os.close(r)
    os.waitpid(pid, 0)
    assert os.stat(path).st_ino == inode


def test_the_lock_is_released_when_the_block_raises(tmp_path):
    path = tmp_path / "d.lock"
    with pytest.raises(RuntimeError):
        with locked(path):
            raise RuntimeError("boom")
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError if it were still held
    finally:
        os.close(fd)


def test_the_lock_is_not_inherited_by_programs_started_under_it(tmp_path):
    path = tmp_path / "d.lock"
    with locked(path):
        fds = [int(fd) for fd in os.listdir("/proc/self/fd")
               if os.path.realpath(f"/proc/self/fd/{fd}") == str(path)]
        assert len(fds) == 1
        assert fcntl.fcntl(fds[0], fcntl.F_GETFD) & fcntl.FD_CLOEXEC


def test_without_a_state_directory_nothing_is_created(tmp_path):
    state = tmp_path / "state"
    with locked(state / "d.lock"):
        pass
    assert not state.exists()


def test_a_symlink_at_the_lock_path_is_refused(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("")
    (tmp_path / "d.lock").symlink_to(target)
    with pytest.raises(DaemonctlError, match="cannot open lock file"):
        with locked(tmp_path / "d.lock"):
            pytest.fail("locked through a symlink")


def test_try_locked_is_refused_while_another_holds_the_lock(tmp_path):
    path = tmp_path / "d.lock"
    with locked(path):  # another open file description: flock excludes it as it would another process
        with try_locked(str(path)) as got:
            assert got is False
    with try_locked(str(path)) as got:
        assert got is True


def test_try_locked_without_a_state_directory_has_nothing_to_wait_for(tmp_path):
    # A set's supervisor retries while this says False: a state directory deleted under it
    # (stop of the set, then rm -r) must not keep it retrying, unable to end.
    state = tmp_path / "state"
    with try_locked(str(state / "d.lock")) as got:
        assert got is True
    assert not state.exists()


# A holder that unlinks the lock file (remove forgets a daemon under its lock) -------------------


def same_file(fd: int, path: Path) -> bool:
    there, held = os.stat(path), os.fstat(fd)
    return (there.st_dev, there.st_ino) == (held.st_dev, held.st_ino)


def test_a_waiter_on_a_lock_file_its_holder_unlinked_locks_the_file_at_the_path(tmp_path):
    # The waiter opened the file before the holder unlinked it. Had it kept the old inode, a third
    # process creating the file anew would hold "the" lock beside it.
    path = tmp_path / "d.lock"
    seen: list[bool] = []
    with locked(path):
        def waiter() -> None:
            with locked(path):
                with try_locked(str(path)) as third:
                    seen.append(third)
        thread = threading.Thread(target=waiter)
        thread.start()
        deadline = time.monotonic() + 30
        while not blocked_on(path, os.getpid()):  # the waiter has opened the file and waits on its flock
            assert thread.is_alive() and time.monotonic() < deadline, "the waiter neither waited nor ran"
            time.sleep(0.01)
        os.unlink(path)  # what remove does, holding the lock
    thread.join(30)
    assert seen == [False], "a newcomer locked the name while the waiter held it"


def test_acquire_retries_when_the_file_was_unlinked_while_it_waited(tmp_path):
    path = tmp_path / "d.lock"
    calls: list[int] = []

    def flock(fd: int, op: int) -> None:
        calls.append(fd)
        if len(calls) == 1:
            os.unlink(path)  # the holder removes the file; then lets go, and this flock returns
        fcntl.flock(fd, op)

    fd = acquire(path, flock=flock)
    assert fd is not None
    try:
        assert len(calls) == 2 and path.exists() and same_file(fd, path)
    finally:
        os.close(fd)


def test_acquire_retries_when_the_file_was_replaced_while_it_waited(tmp_path):
    # Unlinked by one holder, then created anew by the next taker: the file at the path is another inode.
    path = tmp_path / "d.lock"
    calls: list[int] = []
    newer: list[int] = []

    def flock(fd: int, op: int) -> None:
        calls.append(fd)
        if len(calls) == 1:
            os.unlink(path)
            path.write_text("")
            newer.append(os.stat(path).st_ino)
        fcntl.flock(fd, op)

    fd = acquire(path, flock=flock)
    assert fd is not None
    try:
        assert len(calls) == 2 and os.fstat(fd).st_ino == newer[0]
    finally:
        os.close(fd)


def test_acquire_closes_every_file_it_let_go(tmp_path):
    path = tmp_path / "d.lock"
    before = set(os.listdir("/proc/self/fd"))
    first = True

    def flock(fd: int, op: int) -> None:
        nonlocal first
        if first:
            first = False
            os.unlink(path)
        fcntl.flock(fd, op)

    fd = acquire(path, flock=flock)
    assert fd is not None
    os.close(fd)
    assert set(os.listdir("/proc/self/fd")) == before


def test_acquire_without_waiting_gives_none_while_another_holds_it(tmp_path):
    path = tmp_path / "d.lock"
    with locked(path):
        assert acquire(path, blocking=False) is None


def test_is_current_tells_an_unlinked_or_replaced_file(tmp_path):
    path = tmp_path / "d.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        assert is_current(fd, path)
        os.unlink(path)
        assert not is_current(fd, path)
        path.write_text("")
        assert not is_current(fd, path)
    finally:
        os.close(fd)


def test_unlink_if_free_removes_a_free_lock_file_and_leaves_a_held_one(tmp_path):
    path = tmp_path / "d.writer.lock"
    with locked(path):
        assert unlink_if_free(str(path)) is False
        assert path.exists()
    assert unlink_if_free(str(path)) is True
    assert not path.exists()
    assert unlink_if_free(str(path)) is True  # nothing there: nothing left


def test_hold_lock_after_its_file_was_unlinked_holds_the_file_at_the_path(tmp_path):
    path = tmp_path / "d.writer.lock"
    old = hold_lock(str(path))
    released = []

    def sleep(_: float) -> None:
        if not released:  # the old holder unlinks its file and lets go while the next one polls
            released.append(True)
            os.unlink(path)
            os.close(old)

    fd = hold_lock(str(path), wait=30, sleep=sleep)
    try:
        assert released and path.exists() and same_file(fd, path)
        with try_locked(str(path)) as third:
            assert third is False
    finally:
        os.close(fd)


def test_acquire_without_create_makes_no_file_and_says_so_when_unlinked_while_it_waited(tmp_path):
    path = tmp_path / "d.lock"
    with pytest.raises(FileNotFoundError):
        acquire(path, blocking=False, create=False)
    assert not path.exists()
    path.write_text("")

    def flock(fd: int, op: int) -> None:
        os.unlink(path)  # its holder removed it (remove), then let go
        fcntl.flock(fd, op)

    before = set(os.listdir("/proc/self/fd"))
    with pytest.raises(FileNotFoundError):
        acquire(path, blocking=False, flock=flock, create=False)
    assert not path.exists() and set(os.listdir("/proc/self/fd")) == before
    path.write_text("")
    fd = acquire(path, blocking=False, create=False)
    assert fd is not None and same_file(fd, path)
    os.close(fd)
