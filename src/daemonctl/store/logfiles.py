"""The program's stdout and stderr logs, opened by daemonctl before the fork.

Opened the one way (safeopen): never through a symlink, a regular file or
/dev/null only, with the daemon user's rights where that user can write.
"""

from __future__ import annotations

import os

from daemonctl.store.safeopen import Refused, Rights, acting_as, open_append, rights_for

TYPE_CHECKING = False
if TYPE_CHECKING:  # the resident supervisor imports this module: record.py stays out of it
    from daemonctl.proc.privileges import Credentials
    from daemonctl.store.record import StartSpec


class Logs:
    """The program's stdout and stderr, opened for append; remembers which files it created."""

    def __init__(self, out_fd: int, err_fd: int, created: list[str], rights: Rights | None = None) -> None:
        self.out_fd, self.err_fd, self.created = out_fd, err_fd, created
        self.rights = rights  # the daemon user's, to remove what was created (see remove_quietly)

    @classmethod
    def open(cls, spec: StartSpec, owner: Credentials | None = None) -> Logs:
        created: list[str] = []
        rights = Rights.of(owner)
        out_fd = _open_log(spec.stdout, "stdout", created, owner)
        if spec.stderr == spec.stdout:
            return cls(out_fd, out_fd, created, rights)
        try:
            return cls(out_fd, _open_log(spec.stderr, "stderr", created, owner), created, rights)
        except BaseException:
            os.close(out_fd)
            remove_quietly(created, rights)
            raise

    def close(self) -> None:
        os.close(self.out_fd)
        if self.err_fd != self.out_fd:
            os.close(self.err_fd)

    def remove_created(self) -> None:
        """Undo a start that never ran the program: a log it created stays empty, so goes."""
        remove_quietly(self.created, self.rights)


def _open_log(path: str, what: str, created: list[str], owner: Credentials | None) -> int:
    try:
        fd, new = open_log(path, what, owner)
    except Refused as err:
        raise err.to_error() from None
    if new:
        created.append(path)
    return fd


def open_log(path: str, what: str, owner: Credentials | None) -> tuple[int, bool]:
    """One log for append: (fd, created). A log root creates for another user is given to that user."""
    return open_append(
        path,
        f"{what} log",
        Rights.of(owner),
        owner=(owner.uid, owner.gid) if owner is not None else None,
        allow_null=True,
    )


def remove_quietly(paths: list[str], rights: Rights | None = None) -> None:
    """Unlink each path, by the rule it was created by: with the daemon user's rights where
    that user can change what the path names (it may have swapped a directory on the way
    for a link to one of root's since)."""
    for path in paths:
        try:
            with acting_as(rights_for(path, rights)):
                os.unlink(path)
        except (OSError, Refused):
            pass
