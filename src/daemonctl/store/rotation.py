"""A log file the log writer appends whole lines to, rotated by size, that never blocks on a full disk.

Rotation (`--log-max-size`, `--log-keep`): before a write would take the file
past the size, the whole lines that still fit are written, then LOG.N-1 becomes
LOG.N ... LOG becomes LOG.1 (what was LOG.N goes), a new LOG is created and the
rest is written there. A line is never split nor written twice across files: a
file only ever ends after a newline. A single line larger than the size goes
alone into a file of its own.

A full disk (ENOSPC, EDQUOT, EFBIG from RLIMIT_FSIZE, EIO): the lines that
cannot be written are dropped, counted, and never retried, so the writer keeps
reading and the program is never blocked. A write that got only part of a line
out is cut back to the last whole line. Once a write succeeds again, one line
`daemonctl: log writer: dropped ...` says first how many lines and bytes were
lost, between which times, and why.

The path is looked at again once a second: a log renamed away (logrotate's
`create`) or removed is reopened by its name, so the program never keeps
writing into LOG.1; one truncated in place (`copytruncate`) is appended to from
its new end (O_APPEND).

Every open, rename and removal goes through `Ops`, so the logic is tested
without a disk; `SafeOps` does them by safeopen's rules: never through a
symlink, never blocking on a FIFO, regular files only, and with the daemon
user's rights wherever that user can change what the path names.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable

from daemonctl.speedups import Protocol
from daemonctl.store.safeopen import Refused, Rights, acting_as, rights_for

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daemonctl.proc.privileges import Credentials

Data = bytes | bytearray  # whole lines (stamped lines come as a bytearray)
RECHECK = 1.0  # seconds between looks at what the path names (logrotate's renames, removals)
NEWLINE = b"\n"


class Ops(Protocol):
    """The file operations of a rotating log (all may raise OSError)."""

    def open(self, path: str) -> int: ...  # for append, created if missing

    def rename(self, source: str, target: str) -> None: ...

    def unlink(self, path: str) -> None: ...

    def write(self, fd: int, data: Data) -> int: ...

    def close(self, fd: int) -> None: ...

    def size(self, fd: int) -> int: ...

    def truncate(self, fd: int, size: int) -> None: ...

    def same(self, fd: int, path: str) -> bool: ...  # whether `path` still names the file open as `fd`


class SafeOps:
    """The real operations, by safeopen's rules, as the daemon's user where it controls the path."""

    def __init__(self, owner: Credentials | None = None) -> None:
        self.owner = owner
        self.rights = Rights.of(owner)

    def open(self, path: str) -> int:
        from daemonctl.store.logfiles import open_log

        try:
            return open_log(path, "log", self.owner)[0]
        except Refused as err:
            raise OSError(err.errno or errno.EPERM, err.message) from None

    def rename(self, source: str, target: str) -> None:
        # rename(2) follows no symlink in the last component: a link planted as LOG.1 is moved, not followed.
        with acting_as(rights_for(target, self.rights)):
            os.rename(source, target)

    def unlink(self, path: str) -> None:
        with acting_as(rights_for(path, self.rights)):
            os.unlink(path)

    def write(self, fd: int, data: Data) -> int:
        return os.write(fd, data)

    def close(self, fd: int) -> None:
        os.close(fd)

    def size(self, fd: int) -> int:
        return os.fstat(fd).st_size

    def truncate(self, fd: int, size: int) -> None:
        os.ftruncate(fd, size)

    def same(self, fd: int, path: str) -> bool:
        try:
            st = os.lstat(path)
        except OSError:
            return False
        mine = os.fstat(fd)
        return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


class RotatingLog:
    """One log file: `write(whole lines)`; rotated by size when `max_size` is set."""

    def __init__(
        self,
        path: str,
        max_size: int | None,
        keep: int,
        ops: Ops,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        stamp: Callable[[], bytes] | None = None,
    ) -> None:
        self.path, self.max_size, self.keep, self.ops = path, max_size, keep, ops
        self.clock, self.wall, self.stamp = clock, wall, stamp
        self.fd: int | None = None
        self.size = 0
        self.checked = 0.0
        self.dropped_lines = self.dropped_bytes = 0
        self.dropped_since = 0.0
        self.dropped_why = ""
        self.rotation_failed = self.reopen_failed = False
        self._reopen()

    # -- writing ---------------------------------------------------------

    def write(self, data: Data) -> None:
        """Append `data`, whole lines, rotating as needed; whatever cannot be written is dropped and counted."""
        if not data:
            return
        now = self.clock()
        if now - self.checked >= RECHECK:
            self.checked = now
            self._follow_path()
        if self.fd is None and not self._reopen():
            self._drop(data, self.dropped_why or "the log cannot be opened")
            return
        if self.dropped_lines and not self._tell_dropped():
            self._drop(data, self.dropped_why)
            return
        while data:
            if self.max_size is not None and self.size + len(data) > self.max_size:
                cut = data.rfind(NEWLINE, 0, max(self.max_size - self.size, 0)) + 1
                if cut == 0 and self.size == 0:
                    cut = data.find(NEWLINE) + 1  # one line larger than the size: a file of its own
                if cut and not self._append(data[:cut]):
                    self._drop(data[cut:], self.dropped_why)
                    return
                data = data[cut:]
                if data and not self._rotate():
                    if self.fd is None:
                        self._drop(data, self.dropped_why)
                    else:
                        self._append(data)  # cannot rotate: better a log too large than lines lost
                    return
            else:
                self._append(data)
                return

    def _append(self, data: Data) -> bool:
        """Write it all; on failure cut the file back to its last whole line and drop the rest (False)."""
        assert self.fd is not None
        done = 0
        try:
            while done < len(data):
                done += self.ops.write(self.fd, data[done:] if done else data)
        except OSError as err:
            kept = data.rfind(NEWLINE, 0, done) + 1
            if kept < done:
                self._cut_back(done - kept)
            self.size += kept
            self._drop(data[kept:], os.strerror(err.errno) if err.errno else str(err))
            return False
        self.size += done
        return True

    def _cut_back(self, extra: int) -> None:
        """Remove the last `extra` bytes (part of a line) from the file's end."""
        assert self.fd is not None
        try:
            self.ops.truncate(self.fd, max(self.ops.size(self.fd) - extra, 0))
        except OSError:
            pass  # the line stays cut; the notice that follows says lines were lost there

    def _drop(self, data: Data, why: str) -> None:
        if not data:
            return
        if not self.dropped_lines:
            self.dropped_since = self.wall()
        self.dropped_lines += data.count(NEWLINE)
        self.dropped_bytes += len(data)
        self.dropped_why = why

    def _tell_dropped(self) -> bool:
        """Write the line that says what was dropped; True once it is written."""
        assert self.fd is not None
        notice = self.own_line(
            f"daemonctl: log writer: dropped {self.dropped_lines} line{'s' if self.dropped_lines != 1 else ''} "
            f"({self.dropped_bytes} bytes) of output written from {_clock_time(self.dropped_since)} "
            f"to {_clock_time(self.wall())}: {self.dropped_why}"
        )
        try:
            done = self.ops.write(self.fd, notice)
        except OSError:
            return False
        if done < len(notice):
            self._cut_back(done)
            return False
        self.size += done
        self.dropped_lines = self.dropped_bytes = 0
        return True

    def own_line(self, message: str) -> bytes:
        """A line of daemonctl's own, stamped like the program's lines."""
        line = message.encode("utf-8", "replace") + NEWLINE
        return self.stamp() + line if self.stamp is not None else line

    def tell(self, message: str) -> None:
        """Write one line of daemonctl's own (a failure of the writer or the supervisor)."""
        self.write(self.own_line(message))

    # -- the file ---------------------------------------------------------

    def _reopen(self) -> bool:
        try:
            fd = self.ops.open(self.path)
        except OSError as err:
            self.dropped_why = f"cannot open {self.path}: {err.strerror or err}"
            return False
        if self.fd is not None:
            self.ops.close(self.fd)
        self.fd = fd
        try:
            self.size = self.ops.size(fd)
        except OSError:
            self.size = 0
        return True

    def _follow_path(self) -> None:
        """Reopen by name when the path names another file (renamed or removed by someone else)."""
        if self.fd is None:
            return
        try:
            if self.ops.same(self.fd, self.path):
                self.size = self.ops.size(self.fd)  # truncated in place (copytruncate): its size now
                return
        except OSError:
            return
        if self._reopen():
            self.reopen_failed = False
        elif not self.reopen_failed:
            self.reopen_failed = True
            self._append(self.own_line(f"daemonctl: log writer: {self.dropped_why}; writing on to the file "
                                       f"{self.path} named before"))

    def _rotate(self) -> bool:
        """LOG.N-1 -> LOG.N ... LOG -> LOG.1, and a new LOG; False (said once) when it cannot be done."""
        try:
            if self.keep == 0:
                self.ops.unlink(self.path)
            else:
                for n in range(self.keep - 1, 0, -1):
                    try:
                        self.ops.rename(f"{self.path}.{n}", f"{self.path}.{n + 1}")
                    except FileNotFoundError:
                        pass
                self.ops.rename(self.path, f"{self.path}.1")
        except OSError as err:
            if not self.rotation_failed:
                self.rotation_failed = True
                self._append(self.own_line(f"daemonctl: log writer: cannot rotate {self.path}: "
                                           f"{err.strerror or err}; writing on to it"))
            return False
        self.rotation_failed = False
        self.checked = self.clock()
        if not self._reopen():
            assert self.fd is not None
            self.ops.close(self.fd)  # renamed, but no new file: drop until one can be opened
            self.fd = None
            return False
        return True

    def close(self) -> None:
        if self.dropped_lines and self.fd is not None:
            self._tell_dropped()
        if self.fd is not None:
            self.ops.close(self.fd)
            self.fd = None


def _clock_time(when: float) -> str:
    """ISO 8601 to the second in local time, with the offset as +HH:MM."""
    tm = time.localtime(when)
    sign, minutes = ("-" if tm.tm_gmtoff < 0 else "+"), abs(tm.tm_gmtoff) // 60
    return time.strftime("%Y-%m-%dT%H:%M:%S", tm) + f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
