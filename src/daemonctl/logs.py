"""Reading a daemon's log: the last lines, and following it across rotation."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from .errors import Failure
from .state import StateDir, validate_name

BLOCK = 8192


def log_path(state: StateDir, name: str) -> str:
    """The stdout log of NAME, from its record (or the default place when it has none)."""
    from .daemon import load_record

    rec = load_record(state, validate_name(name))
    if rec is None:
        path = state.log(name)
        if not os.path.exists(path):
            raise Failure(f"no daemon named {name} in {state.path}")
        return path
    if rec.spec.stdout == os.devnull:
        raise Failure(f"{name} discards its output (stdout is {os.devnull}); nothing to show")
    return rec.spec.stdout


def tail(path: str, lines: int) -> list[str]:
    """The last `lines` lines of `path` (without newlines); [] if it does not exist."""
    if lines <= 0:
        return []
    try:
        with open(path, "rb") as f:
            data = _last_lines(f, lines)
    except (FileNotFoundError, IsADirectoryError):
        return []
    return data.decode("utf-8", "replace").splitlines()


def _last_lines(f, lines: int) -> bytes:  # type: ignore[no-untyped-def]
    """Read backwards in blocks until the file's end holds more than `lines` line breaks."""
    end = f.seek(0, os.SEEK_END)
    pos, data = end, b""
    while pos > 0 and data.count(b"\n") <= lines:
        step = min(BLOCK, pos)
        pos -= step
        f.seek(pos)
        data = f.read(step) + data
    body = data[:-1] if data.endswith(b"\n") else data
    parts = body.split(b"\n")
    return b"\n".join(parts[-lines:])


class Follower:
    """Yields what is appended to a file, across rotation (rename, or truncation in place)."""

    def __init__(self, path: str, start_at_end: bool = True) -> None:
        self.path = path
        self.f = self._open()
        if self.f is not None and start_at_end:
            self.f.seek(0, os.SEEK_END)

    def _open(self):  # type: ignore[no-untyped-def]
        try:
            return open(self.path, "rb")
        except FileNotFoundError:
            return None

    def read(self) -> bytes:
        """Whatever is new since the last call (b"" when nothing is)."""
        if self.f is None:
            self.f = self._open()
            return self.f.read() if self.f else b""
        data = self.f.read()
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return data  # renamed away; the new file has not appeared yet
        current = os.fstat(self.f.fileno())
        if (st.st_ino, st.st_dev) != (current.st_ino, current.st_dev):
            data += self.f.read()  # what was written before the rename
            self.f.close()
            self.f = self._open()
            data += self.f.read() if self.f else b""
        elif st.st_size < self.f.tell():
            self.f.seek(0)  # truncated (copytruncate rotation)
            data += self.f.read()
        return data

    def close(self) -> None:
        if self.f is not None:
            self.f.close()


def follow(
    path: str,
    write: Callable[[bytes], None],
    interval: float = 0.2,
    sleep: Callable[[float], None] = time.sleep,
    rounds: int | None = None,
) -> None:
    """Write what is appended to `path` until interrupted (or `rounds` polls, for tests)."""
    follower = Follower(path)
    try:
        n = 0
        while rounds is None or n < rounds:
            data = follower.read()
            if data:
                write(data)
            sleep(interval)
            n += 1
    finally:
        follower.close()
