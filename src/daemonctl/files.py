"""Atomic file replacement, shared by the pidfile and the record."""

from __future__ import annotations

import os

TYPE_CHECKING = False  # pathlib for type hints only: the lean supervisor imports this module
if TYPE_CHECKING:
    from pathlib import Path


class AtomicFile:
    """A file replaced atomically: readers see the old or the new one, never half.

    Opening creates the temporary file in the target's directory at once, so a
    caller can find out that the place is not writable *before* it does
    anything it would have to undo (such as starting a daemon).
    """

    def __init__(self, path: Path | str, mode: int = 0o644) -> None:
        self.path = path
        directory, base = os.path.split(path)
        self.tmp = os.path.join(directory, f".{base}.{os.getpid()}.tmp")
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
        self.fd: int | None = os.open(self.tmp, flags, mode)

    def commit(self, data: bytes) -> None:
        """Write, fsync, rename over the target, fsync the directory."""
        assert self.fd is not None, "commit after close"
        try:
            os.write(self.fd, data)
            os.fsync(self.fd)
            os.close(self.fd)
            self.fd = None
            os.rename(self.tmp, self.path)
        except BaseException:
            self.discard()
            raise
        fsync_dir(os.path.dirname(self.path) or ".")

    def discard(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        remove(self.tmp)


def atomic_write(path: Path | str, data: bytes, mode: int = 0o644) -> None:
    AtomicFile(path, mode).commit(data)


def fsync_dir(directory: Path | str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove(path: Path | str) -> bool:
    """Unlink `path`; True when it existed."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True
