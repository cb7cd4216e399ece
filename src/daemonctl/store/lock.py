"""Serialise commands on one daemon name with flock on a lock file."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from daemonctl.errors import from_oserror

TYPE_CHECKING = False  # pathlib for type hints only: the lean supervisor imports this module
if TYPE_CHECKING:
    from pathlib import Path


@contextmanager
def locked(path: Path | str) -> Iterator[None]:
    """Hold an exclusive flock on `path` (created if missing) for the block.

    The kernel drops the lock when the process dies, so a killed daemonctl
    never leaves a name locked. The file stays: unlinking it would let two
    processes hold locks on different inodes of the same name.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    except FileNotFoundError as err:
        if os.path.exists(os.path.dirname(path) or "."):
            raise from_oserror(err, f"cannot open lock file {path}") from None
        # No state directory: nothing is recorded, so there is nothing to protect,
        # and a command that only finds "not running" should not create it.
        yield
        return
    except OSError as err:
        raise from_oserror(err, f"cannot open lock file {path}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
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
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    except FileNotFoundError:
        yield not os.path.exists(os.path.dirname(path) or ".")
        return
    except OSError:
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True
    finally:
        os.close(fd)
