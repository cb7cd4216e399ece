"""What one start of a program wrote to its logs, for the "last lines" of a failed start.

Before the start each log is opened for reading and its size noted; after a failure
only what came after that point is shown, never an earlier run's lines. Reading
through the descriptor held since the mark follows the very file the program writes
to, even if the log was renamed meanwhile (rotation); a log truncated in place
(copytruncate) is read from its start; a new file at the path, created by a rotation,
is read whole after it.
"""

from __future__ import annotations

import os

from daemonctl.store.safeopen import Refused, Rights, open_read

TAIL_BYTES = 65536  # the last lines of a run are looked for in its last 64 KiB


class LogMark:
    """One log file as it was just before the start."""

    def __init__(self, path: str, rights: Rights | None) -> None:
        self.path, self.rights = path, rights
        self.fd = _open_regular(path, rights)
        self.offset = os.fstat(self.fd).st_size if self.fd is not None else 0

    def written(self) -> bytes:
        """What was appended since the mark (its last TAIL_BYTES)."""
        if self.fd is None:
            # No log before the start: whatever is there now is this run's.
            return _read_file_tail(self.path, self.rights)
        data = _read_from(self.fd, self.offset)
        current = _open_regular(self.path, self.rights)
        if current is not None:
            try:
                if _same_file(current, self.fd):
                    return data
                # Rotated: the program may already write to the new file at the path.
                if data and not data.endswith(b"\n"):
                    data += b"\n"
                return (data + _read_from(current, 0))[-TAIL_BYTES:]
            finally:
                os.close(current)
        return data

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class RunLogs:
    """The marks of a start's stdout and stderr logs (one when they are the same file)."""

    def __init__(self, paths: list[str], rights: Rights | None = None) -> None:
        self.marks: list[LogMark] = []
        try:
            for path in dict.fromkeys(paths):
                self.marks.append(LogMark(path, rights))
        except BaseException:
            self.close()
            raise

    def last_lines(self, lines: int = 10) -> list[str]:
        out: list[str] = []
        for mark in self.marks:
            text = mark.written().decode("utf-8", "replace")
            out += text.splitlines()[-lines:]
        return out

    def close(self) -> None:
        for mark in self.marks:
            mark.close()


def _open_regular(path: str, rights: Rights | None) -> int | None:
    """A read descriptor on `path` if it is a regular file the daemon's user may read; else None.

    Opened by safeopen's rules (no symlink, no FIFO, the user's rights where it can
    change the path), since its lines end up in an error message.
    """
    try:
        return open_read(path, "log", rights)
    except (OSError, Refused):
        return None


def _same_file(a: int, b: int) -> bool:
    sa, sb = os.fstat(a), os.fstat(b)
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def _read_from(fd: int, offset: int) -> bytes:
    size = os.fstat(fd).st_size
    if size < offset:
        offset = 0  # truncated in place since the mark: all of it is new
    start = max(offset, size - TAIL_BYTES)
    chunks, pos = [], start
    while pos < size:
        chunk = os.pread(fd, size - pos, pos)
        if not chunk:
            break
        chunks.append(chunk)
        pos += len(chunk)
    data = b"".join(chunks)
    if start > offset:
        data = data[data.find(b"\n") + 1 :]  # the first line was cut: not shown
    return data


def _read_file_tail(path: str, rights: Rights | None) -> bytes:
    fd = _open_regular(path, rights)
    if fd is None:
        return b""
    try:
        return _read_from(fd, 0)
    finally:
        os.close(fd)
