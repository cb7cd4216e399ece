"""The one way daemonctl opens a file in a place someone else may write.

Logs, env files, pidfiles and records are opened by root on a daemon's behalf,
at `start` and again later (the supervisor's reopen at every run, `restart`,
`logs`). Whoever can write the place can plant a symlink, a FIFO, a device or a
hard link there between two opens, so every open, not only the first:

- never follows a symlink (`O_NOFOLLOW`; a symlink is refused),
- never blocks (`O_NONBLOCK` at open: a FIFO without a writer or reader, a
  device, cannot hang us; writers get blocking mode back once the file is known
  to be regular),
- accepts a regular file only (`fstat` after the open; `/dev/null` is allowed
  where a caller says so, as `-o /dev/null` discards output),
- reads at most a stated number of bytes (`read_bounded`),
- and, where the daemon's user can write the file's directory or any directory
  above it, is done with that user's rights, so root never reads or writes
  there more than that user could alone (a planted hard link to a root file
  fails with EACCES). Elsewhere (`/var/log`, `/etc`) root opens it: nobody but
  root can change what the path names there.

How the rights are taken: the effective uid, gid and groups of this process are
switched for the open (setgroups, setegid, seteuid) and switched back in a
`finally`, with every signal blocked meanwhile so no Python signal handler runs
with the borrowed identity. The alternative, a forked child that drops its
privileges and passes the descriptor back over SCM_RIGHTS, costs a fork per open
and the `socket` module, which the resident supervisor must not import (it stays
lean, see tests/unit/test_supervisor_lean.py). Switching is sound here because
daemonctl and the supervisor are single-threaded (checked at every switch: a
process with threads is refused, as they would share the borrowed identity);
the real and saved uid stay root's, so switching back cannot fail, and other
users still cannot signal or ptrace us meanwhile (the kernel checks the real and
saved uid, and marks the process non-dumpable).

Errors carry no content of the file: only its path, its kind and the errno.
"""

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager

from daemonctl.errors import DaemonctlError, Failure, PrivilegeError
from daemonctl.exitcodes import ExitStatus
from daemonctl.speedups import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daemonctl.proc.privileges import Credentials

BASE = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
READ = os.O_RDONLY | BASE
APPEND = os.O_WRONLY | os.O_APPEND | BASE
NULL_DEVICE = "/dev/null"
MiB = 1 << 20


class Refused(Exception):
    """A file daemonctl will not open or read.

    `trust`: a trust refusal (a symlink, a FIFO, a device where a regular file
    belongs). Exit 4 for those and, as everywhere in daemonctl, for "permission
    denied" (insufficient privilege); 1 for any other failure.
    """

    def __init__(self, message: str, trust: bool = False, errno_: int | None = None) -> None:
        super().__init__(message)
        self.message, self.trust, self.errno = message, trust, errno_

    @property
    def exit_code(self) -> int:
        denied = self.trust or self.errno in (errno.EACCES, errno.EPERM)
        return ExitStatus.PRIVILEGE if denied else ExitStatus.FAILURE

    def to_error(self) -> DaemonctlError:
        """This refusal as daemonctl's error: PrivilegeError (4) or Failure (1)."""
        return (PrivilegeError if self.exit_code == ExitStatus.PRIVILEGE else Failure)(self.message)


class Rights(NamedTuple):
    """Whose rights an open is done with: a uid, a gid and supplementary groups."""

    uid: int
    gid: int
    groups: tuple[int, ...]

    @classmethod
    def of(cls, creds: "Credentials | None") -> "Rights | None":
        """The rights of the daemon's user; None when it runs as root (root's rights apply)."""
        if creds is None or creds.uid == 0:
            return None
        from daemonctl.proc.privileges import pinned

        groups = pinned(creds).groups
        assert groups is not None
        return cls(creds.uid, creds.gid, groups)

    def can_write(self, st: os.stat_result) -> bool:
        """Whether this user may change what a directory with stat `st` holds (owners may chmod it)."""
        if st.st_uid == self.uid:
            return True
        if st.st_gid in self.groups and st.st_mode & stat.S_IWGRP:
            return True
        return bool(st.st_mode & stat.S_IWOTH)


def rights_for(path: str, rights: Rights | None) -> Rights | None:
    """The rights to open `path` with: the user's where it can change what any component names, else None (ours).

    The user can change what a component names when it owns the directory that
    holds it, or may write that directory, unless the directory is sticky (/tmp)
    and the component exists and belongs to someone else. Only root switches;
    anyone else opens with their own rights anyway.
    """
    if rights is None or os.geteuid() != 0:
        return None
    absolute = os.path.abspath(path)
    directory, leaf = os.path.split(absolute)
    for start in dict.fromkeys((absolute, os.path.join(os.path.realpath(directory), leaf))):
        if _user_can_change(start, rights):
            return rights
    return None


def _user_can_change(path: str, rights: Rights) -> bool:
    child = path
    while True:
        directory = os.path.dirname(child)
        if directory == child:
            return False
        try:
            st = os.stat(directory)
        except OSError:
            st = None  # not there (yet), or not reachable: the open will say so
        if st is not None and rights.can_write(st):
            if st.st_uid == rights.uid or not st.st_mode & stat.S_ISVTX:
                return True
            try:
                if os.lstat(child).st_uid == rights.uid:
                    return True
            except OSError:
                return True  # missing in a sticky directory: the user may create it first
        child = directory


@contextmanager
def acting_as(rights: Rights | None) -> Iterator[None]:
    """Run the body with `rights` as effective uid, gid and groups (None: as we are); always switched back."""
    if rights is None:
        yield
        return
    if len(os.listdir("/proc/self/task")) != 1:
        # seteuid is process-wide: other threads would run with the borrowed rights too.
        raise Refused("cannot open a file with another user's rights in a multi-threaded process")
    import signal  # only here: its enums cost every command that never borrows rights 0.4 ms

    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
    old_groups, old_gid, old_uid = os.getgroups(), os.getegid(), os.geteuid()
    try:
        os.setgroups(list(rights.groups))
        try:
            os.setegid(rights.gid)
            try:
                os.seteuid(rights.uid)
                try:
                    yield
                finally:
                    os.seteuid(old_uid)
            finally:
                os.setegid(old_gid)
        finally:
            os.setgroups(old_groups)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)


def _describe(st: os.stat_result) -> str:
    mode = st.st_mode
    for test, kind in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a directory"),
    ):
        if test(mode):
            return kind
    return "not a regular file"


def _check(fd: int, path: str, what: str, allow_null: bool) -> os.stat_result:
    """`fd`'s stat if it is a regular file (or the null device, if allowed); else close it and refuse."""
    st = os.fstat(fd)
    if stat.S_ISREG(st.st_mode):
        return st
    if allow_null and _is_null(st):
        return st
    os.close(fd)
    raise _not_regular(path, what, st)


def _is_null(st: os.stat_result) -> bool:
    if not stat.S_ISCHR(st.st_mode):
        return False
    try:
        null = os.stat(NULL_DEVICE)
    except OSError:
        return False
    return stat.S_ISCHR(null.st_mode) and st.st_rdev == null.st_rdev


def _not_regular(path: str, what: str, st: os.stat_result) -> Refused:
    kind = _describe(st)
    if stat.S_ISDIR(st.st_mode):
        return Refused(f"{what} {path} is a directory", trust=False, errno_=errno.EISDIR)
    return Refused(f"{what} {path} is {kind}, not a regular file; refusing to open it", trust=True)


def _failure(path: str, what: str, err: OSError, verb: str = "open") -> Refused:
    if err.errno == errno.ELOOP:
        return Refused(f"{what} {path} is a symbolic link; refusing to follow it", trust=True, errno_=errno.ELOOP)
    return Refused(f"cannot {verb} {what} {path}: {err.strerror or err}", trust=False, errno_=err.errno)


def _refusal_after(path: str, what: str, err: OSError) -> Refused:
    """Why an open failed: a special file (ENXIO: a FIFO with no reader; a device) is a trust refusal."""
    if err.errno in (errno.ENXIO, errno.ENODEV, errno.EWOULDBLOCK, errno.ETXTBSY, errno.EOPNOTSUPP):
        try:
            st = os.lstat(path)
        except OSError:
            pass
        else:
            if not stat.S_ISREG(st.st_mode):
                return _not_regular(path, what, st)
    return _failure(path, what, err)


def open_append(
    path: str,
    what: str,
    rights: Rights | None = None,
    create_mode: int = 0o644,
    owner: tuple[int, int] | None = None,
    allow_null: bool = False,
) -> tuple[int, bool]:
    """Open `path` for appending, creating it if missing: (blocking fd, whether it was created).

    `rights`: the daemon's user (see `rights_for`, applied here). `owner`: (uid, gid)
    a file created with root's rights is given to, so the daemon's user owns its log.
    """
    acting = rights_for(path, rights)
    fd, created = _open_append(path, what, acting, create_mode, allow_null)
    try:
        if created and acting is None and owner is not None:
            os.fchown(fd, *owner)
        os.set_blocking(fd, True)
    except OSError as err:
        os.close(fd)
        raise _failure(path, what, err) from None
    return fd, created


def _open_append(path: str, what: str, acting: Rights | None, mode: int, allow_null: bool) -> tuple[int, bool]:
    for _ in range(5):  # created or removed by someone else between the two opens: try again
        try:
            with acting_as(acting):
                fd = os.open(path, APPEND | os.O_CREAT | os.O_EXCL, mode)
            created = True
        except FileExistsError:
            try:
                with acting_as(acting):
                    fd = os.open(path, APPEND)
            except FileNotFoundError:
                continue
            except OSError as err:
                raise _refusal_after(path, what, err) from None
            created = False
        except OSError as err:
            raise _refusal_after(path, what, err) from None
        _check(fd, path, what, allow_null)
        return fd, created
    raise Refused(f"cannot open {what} {path}: it keeps appearing and disappearing", trust=True)


def open_read(path: str, what: str, rights: Rights | None = None) -> int:
    """Open an existing regular file for reading (a non-blocking fd; reads of a regular file never block).

    FileNotFoundError is passed through as it is, for callers to whom a missing
    file means something; every other failure is a Refused.
    """
    acting = rights_for(path, rights)
    try:
        with acting_as(acting):
            fd = os.open(path, READ)
    except FileNotFoundError:
        raise
    except OSError as err:
        raise _refusal_after(path, what, err) from None
    _check(fd, path, what, False)
    return fd


def read_bounded(fd: int, limit: int, path: str, what: str) -> bytes:
    """All of `fd` from its offset, at most `limit` bytes; Refused if there is more."""
    chunks: list[bytes] = []
    size = 0
    while True:
        try:
            chunk = os.read(fd, min(limit + 1 - size, 1 << 16))
        except OSError as err:
            raise _failure(path, what, err, "read") from None
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise Refused(f"{what} {path} is larger than {limit} bytes; refusing to read it", trust=False, errno_=errno.EFBIG)


def read_file(path: str, what: str, limit: int, rights: Rights | None = None) -> bytes:
    """The whole content of a regular file of at most `limit` bytes, opened by the rules above."""
    fd = open_read(path, what, rights)
    try:
        return read_bounded(fd, limit, path, what)
    finally:
        os.close(fd)
