"""What daemonctl refuses to trust: files and directories others could have tampered with.

A pidfile decides which process gets signalled, and a record decides what runs
and where its logs go. When someone other than root (or the caller) can write
them, acting on them would let that someone aim root's signals or writes.
"""

from __future__ import annotations

import os
import stat

from daemonctl.errors import PrivilegeError


class Untrusted(PrivilegeError):
    """A file or directory daemonctl will not act on (exit 4)."""


def check_state_dir(path: str) -> None:
    """Refuse a state directory another non-root user owns, or that others may write."""
    try:
        st = os.stat(path)
    except OSError:
        _check_above(path)  # not there (yet): nor is it created where someone else could swap it
        return
    if st.st_uid not in (0, os.geteuid()):
        raise Untrusted(f"state directory {path} belongs to uid {st.st_uid}, not to root or you; refusing to use it")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        who = "everyone" if st.st_mode & stat.S_IWOTH else "its group"
        raise Untrusted(f"state directory {path} is writable by {who} (mode {_mode(st)}); refusing to use it")
    _check_above(path)


def _check_above(path: str) -> None:
    """Refuse a state directory inside one that someone else may change.

    Whoever may rename entries of a directory above it can swap the whole state
    directory for one of their own: records that say what root runs, and as whom.
    A sticky directory (/tmp) lets no one rename what is not theirs.
    """
    absolute = os.path.abspath(path)
    for start in dict.fromkeys((absolute, os.path.realpath(absolute))):
        directory = start
        while os.path.dirname(directory) != directory:
            directory = os.path.dirname(directory)
            try:
                st = os.stat(directory)
            except OSError:
                continue
            if st.st_uid not in (0, os.geteuid()):
                raise Untrusted(
                    f"state directory {path} is inside {directory}, which belongs to uid {st.st_uid}; refusing to use it"
                )
            if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not st.st_mode & stat.S_ISVTX:
                who = "everyone" if st.st_mode & stat.S_IWOTH else "its group"
                raise Untrusted(
                    f"state directory {path} is inside {directory}, which is writable by {who} "
                    f"(mode {_mode(st)}); refusing to use it"
                )


def check_pidfile(path: str, st: os.stat_result | None, daemon_uid: int | None) -> None:
    """As root, refuse a pidfile that someone else could have written.

    `st` is the stat of the pidfile as it was read (None: there is none);
    `daemon_uid` is the uid the daemon runs as, when known.
    """
    if os.geteuid() != 0 or st is None:
        return
    if st.st_mode & stat.S_IWOTH:
        raise Untrusted(f"pidfile {path} is world-writable (mode {_mode(st)}); refusing to act on it")
    try:
        parent = os.stat(os.path.dirname(path) or ".")
    except OSError:
        parent = None
    if parent is not None and parent.st_mode & stat.S_IWOTH and not parent.st_mode & stat.S_ISVTX:
        raise Untrusted(
            f"pidfile {path} is in {os.path.dirname(path)}, which is world-writable without the sticky bit; refusing to act on it"
        )
    if st.st_uid != 0 and st.st_uid != daemon_uid:
        raise Untrusted(
            f"pidfile {path} belongs to uid {st.st_uid}, neither root nor the daemon's user; refusing to act on it"
        )


def check_symlink(path: str, what: str) -> None:
    """A symlink at `path` is followed only when root or the caller made it."""
    try:
        st = os.lstat(path)
    except OSError:
        return
    if stat.S_ISLNK(st.st_mode) and st.st_uid not in (0, os.geteuid()):
        raise Untrusted(f"{what} {path} is a symbolic link owned by uid {st.st_uid}; refusing to follow it")


def process_uid(pid: int) -> int | None:
    """The uid a process runs as, None when it is gone."""
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


def _mode(st: os.stat_result) -> str:
    return format(stat.S_IMODE(st.st_mode), "04o")
