"""Serialise commands on one daemon name with flock on a lock file."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from daemonctl.errors import from_oserror

TYPE_CHECKING = False  # pathlib for type hints only: the lean supervisor imports this module
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    Flock = Callable[[int, int], None]

_OPEN = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW


def is_current(fd: int, path: Path | str) -> bool:
    """True if the open file `fd` is still the file at `path`: not unlinked, nor replaced since it was opened.

    A lock file may be unlinked by its holder (`remove` forgets a daemon under its lock, and its
    lock file with it). A process that opened the file before that, and got the flock after,
    holds a lock on an inode no newcomer can see: it must let go and lock the file at the path.
    """
    try:
        there = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (there.st_dev, there.st_ino) == (held.st_dev, held.st_ino)


def acquire(path: Path | str, blocking: bool = True, flock: Flock = fcntl.flock, create: bool = True) -> int | None:
    """An fd holding an exclusive flock on the file at `path` (created if missing, unless not
    `create`); None if `blocking` is False and another process holds it. Raises FileNotFoundError
    when the directory is missing (or, not `create`, the file), OSError when it cannot be opened.

    Retries until the file it locked is the one at the path (see `is_current`).
    """
    flags = _OPEN if create else _OPEN & ~os.O_CREAT
    while True:
        fd = os.open(path, flags, 0o600)
        try:
            try:
                flock(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return None
            if is_current(fd, path):
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # removed (or replaced) while this process waited: lock the file there now


@contextmanager
def locked(path: Path | str) -> Iterator[None]:
    """Hold an exclusive flock on `path` (created if missing) for the block.

    The kernel drops the lock when the process dies, so a killed daemonctl
    never leaves a name locked. Only the holder may unlink the file, inside the
    block: a waiter that locked the unlinked inode notices it and locks anew.
    """
    try:
        fd = acquire(path)
    except FileNotFoundError as err:
        if os.path.exists(os.path.dirname(path) or "."):
            raise from_oserror(err, f"cannot open lock file {path}") from None
        # No state directory: nothing is recorded, so there is nothing to protect,
        # and a command that only finds "not running" should not create it.
        yield
        return
    except OSError as err:
        raise from_oserror(err, f"cannot open lock file {path}") from None
    assert fd is not None  # a blocking acquire returns the lock or raises
    try:
        yield
    finally:
        os.close(fd)


@contextmanager
def try_locked(path: str) -> Iterator[bool]:
    """As `locked`, without waiting: the block gets True if it holds the lock, False if another
    process does (or the lock file cannot be opened).

    Without a state directory, as with `locked`, there is nothing to protect: True, no lock
    held. A waiter retrying on False would otherwise wait forever for a directory deleted under it.
    """
    try:
        fd = acquire(path, blocking=False)
    except FileNotFoundError:
        yield not os.path.exists(os.path.dirname(path) or ".")
        return
    except OSError:
        yield False
        return
    with holding(fd) as got:
        yield got


@contextmanager
def holding(fd: int | None) -> Iterator[bool]:
    """The block gets True holding the lock on `fd` (closed after it), False for None (another holds it)."""
    if fd is None:
        yield False
        return
    try:
        yield True
    finally:
        os.close(fd)


def unlink_if_free(path: str) -> bool:
    """Unlink the lock file at `path` unless a process holds its lock; True if it is gone.

    Taken (without waiting) before the unlink, so a holder never finds its file gone under it;
    one that opened it and waits sees it is no longer current (`acquire`) and locks anew.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        if not is_current(fd, path):
            return False  # replaced since: the new file is someone else's
        os.unlink(path)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
