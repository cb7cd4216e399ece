"""Cutting a stream of output into whole lines, and stamping them.

Pure logic on bytes, with the clock passed in: the log writer feeds it what
each read of a pipe brings. Work is done per read, not per line, wherever it
can be (a Python loop per line would cost the writer most of its throughput):
the whole lines of a read are found with one `rfind`, and stamped with one
`replace`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

MAX_LINE = 65536  # a longer line is written in pieces of this size, each a line of its own
NEWLINE = b"\n"


class LineBuffer:
    """The whole lines of one stream; what follows the last newline waits for the rest of its line."""

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self.pending = b""

    def feed(self, data: bytes) -> bytes:
        """The whole lines completed by `data`, each ending in a newline (b"" if none is)."""
        if self.pending:
            data = self.pending + data
            self.pending = b""
        cut = data.rfind(NEWLINE) + 1
        whole, rest = (data, b"") if cut == len(data) else (data[:cut], data[cut:])
        if len(whole) > self.max_line + 1:
            whole = self._cut_long(whole)
        if len(rest) > self.max_line:
            pieces = []
            while len(rest) > self.max_line:
                pieces.append(rest[: self.max_line] + NEWLINE)
                rest = rest[self.max_line :]
            whole += b"".join(pieces)
        self.pending = rest
        return whole

    def _cut_long(self, whole: bytes) -> bytes:
        """`whole` (lines ending in newlines) with every line longer than max_line cut in pieces.

        Steps of up to max_line bytes: the number of steps is the size over 64 KiB,
        not the number of lines.
        """
        size, limit = len(whole), self.max_line
        pos, out, start = 0, [], 0
        while size - pos > limit + 1:
            nl = whole.rfind(NEWLINE, pos, pos + limit + 1)
            if nl >= 0:
                pos = nl + 1
                continue
            out.append(whole[start : pos + limit])  # a line longer than the limit: one piece of it
            out.append(NEWLINE)
            pos += limit
            start = pos
        if not out:
            return whole
        out.append(whole[start:])
        return b"".join(out)

    def flush(self) -> bytes:
        """The line left unfinished (the stream ended, or the program did), ended with a newline."""
        rest, self.pending = self.pending, b""
        return rest + NEWLINE if rest else b""


def stamp(lines: bytes, prefix: bytes) -> bytes | bytearray:
    """Every line of `lines` (whole lines) with `prefix` in front, in one pass.

    One replace, and one copy behind the first prefix: the prefix the replace puts after
    the last newline is cut off the end, which costs nothing.
    """
    if not lines:
        return lines
    out = bytearray(prefix)
    out += lines.replace(NEWLINE, NEWLINE + prefix)
    del out[-len(prefix):]
    return out


class LocalStamp:
    """The prefix of a line written now: ISO 8601 local time with milliseconds and offset, and a space.

    Local time is this process's (the daemon's TZ, set before the first call). The
    seconds part is formatted once per second.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._second = -1
        self._head = ""
        self._offset = ""

    def __call__(self) -> bytes:
        now = self.clock()
        second = int(now // 1)
        if second != self._second:
            tm = time.localtime(second)
            self._head = time.strftime("%Y-%m-%dT%H:%M:%S", tm)
            self._offset = offset(tm.tm_gmtoff)
            self._second = second
        millis = min(int((now - second) * 1000), 999)
        return f"{self._head}.{millis:03d}{self._offset} ".encode("ascii")


def offset(seconds: int) -> str:
    """+HH:MM (or -HH:MM) east of UTC, as ISO 8601 writes it."""
    sign = "-" if seconds < 0 else "+"
    minutes = abs(seconds) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
