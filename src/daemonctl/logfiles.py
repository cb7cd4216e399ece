"""The program's stdout and stderr logs, opened by daemonctl before the fork."""

from __future__ import annotations

import errno
import os
import stat

from .errors import Failure
from .privs import Credentials
from .record import StartSpec
from .trust import check_symlink

FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC | os.O_NOCTTY


class Logs:
    """The program's stdout and stderr, opened for append; remembers which files it created."""

    def __init__(self, out_fd: int, err_fd: int, created: list[str]) -> None:
        self.out_fd, self.err_fd, self.created = out_fd, err_fd, created

    @classmethod
    def open(cls, spec: StartSpec, owner: Credentials | None = None) -> Logs:
        created: list[str] = []
        out_fd = _open_log(spec.stdout, "stdout", created, owner)
        if spec.stderr == spec.stdout:
            return cls(out_fd, out_fd, created)
        try:
            return cls(out_fd, _open_log(spec.stderr, "stderr", created, owner), created)
        except Failure:
            os.close(out_fd)
            remove_quietly(created)
            raise

    def close(self) -> None:
        os.close(self.out_fd)
        if self.err_fd != self.out_fd:
            os.close(self.err_fd)

    def remove_created(self) -> None:
        """Undo a start that never ran the program: a log it created stays empty, so goes."""
        remove_quietly(self.created)


def _open_log(path: str, what: str, created: list[str], owner: Credentials | None) -> int:
    try:
        try:
            fd = os.open(path, FLAGS | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return _open_existing(path, what)
        created.append(path)
        try:
            _give(fd, owner)
        except OSError:
            os.close(fd)
            raise
        return fd
    except OSError as err:
        raise Failure(f"cannot open {what} log {path}: {err.strerror}") from None


def _open_existing(path: str, what: str) -> int:
    try:
        return os.open(path, FLAGS | os.O_NOFOLLOW)
    except OSError as err:
        if err.errno != errno.ELOOP:
            raise
    # A symlink: followed only when root or the caller made it (e.g. into /var/log).
    check_symlink(path, f"{what} log")
    return os.open(path, FLAGS | os.O_CREAT, 0o644)


def _give(fd: int, owner: Credentials | None) -> None:
    """A log created for a program that runs as another user belongs to that user."""
    if owner is not None and stat.S_ISREG(os.fstat(fd).st_mode):
        os.fchown(fd, owner.uid, owner.gid)


def remove_quietly(paths: list[str]) -> None:
    for path in paths:
        try:
            os.unlink(path)
        except OSError:
            pass
