"""Atomic file replacement, shared by the pidfile and the record.

The lean supervisor imports this module: it stays free of pathlib.
"""

from __future__ import annotations

import errno
import os

from daemonctl.errors import Failure
from daemonctl.store.safeopen import acting_as, rights_for

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

    from daemonctl.store.safeopen import Rights

TEMP_SUFFIX = ".tmp"


class AtomicFile:
    """A file replaced atomically: readers see the old or the new one, never half.

    Opening creates the temporary file in the target's directory at once, so a
    caller can find out that the place is not writable *before* it does
    anything it would have to undo (such as starting a daemon). The temporary
    name is unpredictable and created with O_EXCL | O_NOFOLLOW: nothing planted
    in the directory, file or symlink, is ever opened or renamed into place.

    `rights`: the daemon's user, for a file in a place that user can change (a
    pidfile in its directory, see safeopen): every step that goes by path is done
    with its rights there, so root never creates, replaces or removes a file where
    that user could not.
    """

    def __init__(self, path: Path | str, mode: int = 0o644, rights: Rights | None = None) -> None:
        self.path, self.rights = path, rights
        directory, base = os.path.split(path)
        self.tmp = os.path.join(directory, f".{base}.{os.getpid()}-{os.urandom(8).hex()}{TEMP_SUFFIX}")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        with acting_as(rights_for(str(path), rights)):
            self.fd: int | None = os.open(self.tmp, flags, mode)

    def reserve(self, size: int) -> None:
        """Claim `size` bytes now, so a full disk fails here rather than at commit."""
        assert self.fd is not None, "reserve after close"
        try:
            os.posix_fallocate(self.fd, 0, size)
        except OSError as err:
            if err.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                self.discard()
                raise

    def commit(self, data: bytes, sync_dir: bool = True) -> None:
        """Write, fsync, rename over the target, fsync the directory (unless `sync_dir` is False:
        the caller renames another file in the same directory next and syncs it then)."""
        assert self.fd is not None, "commit after close"
        try:
            written = os.pwrite(self.fd, data, 0)
            if written != len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            os.ftruncate(self.fd, len(data))
            os.fsync(self.fd)
            os.close(self.fd)
            self.fd = None
            with acting_as(rights_for(str(self.path), self.rights)):
                os.rename(self.tmp, self.path)
        except BaseException:
            self.discard()
            raise
        if sync_dir:
            fsync_dir(os.path.dirname(self.path) or ".")

    def discard(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        try:
            with acting_as(rights_for(self.tmp, self.rights)):
                os.unlink(self.tmp)
        except OSError:
            pass


def atomic_write(path: Path | str, data: bytes, mode: int = 0o644, rights: Rights | None = None) -> None:
    AtomicFile(path, mode, rights).commit(data)


def write_failure(err: OSError, what: str, path: Path | str) -> Failure:
    return Failure(f"cannot write {what} {path}: {err.strerror or err}")


def sweep_temps(path: Path | str, rights: Rights | None = None) -> None:
    """Remove temporary files for `path` left by a daemonctl that was killed mid-write.

    Call only under the name's lock; a temporary file of a live process is kept.
    `rights`: as for AtomicFile.
    """
    directory, base = os.path.split(path)
    prefix = f".{base}."
    with acting_as(rights_for(str(path), rights)):
        try:
            entries = os.listdir(directory or ".")
        except OSError:
            return
        for entry in entries:
            pid = _temp_owner(entry, prefix)
            if pid is not None and not os.path.exists(f"/proc/{pid}"):
                try:
                    os.unlink(os.path.join(directory, entry))
                except OSError:
                    pass


def _temp_owner(entry: str, prefix: str) -> str | None:
    """The PID in a temporary file's name `.BASE.PID-HEX16.tmp`, else None."""
    if not (entry.startswith(prefix) and entry.endswith(TEMP_SUFFIX)):
        return None
    pid, dash, token = entry[len(prefix) : -len(TEMP_SUFFIX)].partition("-")
    hexdigits = "0123456789abcdef"
    if pid.isdigit() and dash and len(token) == 16 and all(c in hexdigits for c in token):
        return pid
    return None


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


def remove(path: Path | str, rights: Rights | None = None) -> bool:
    """Unlink `path`; True when it existed. A place that cannot be written is a Failure.

    `rights`: as for AtomicFile.
    """
    try:
        with acting_as(rights_for(str(path), rights)):
            os.unlink(path)
    except FileNotFoundError:
        return False
    except OSError as err:
        raise Failure(f"cannot remove {path}: {err.strerror}") from None
    return True
