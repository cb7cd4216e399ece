"""Where the last lines of a file begin, found by reading it backwards once.

Each byte is read at most once and only one block is held at a time, so the cost is
the size of the lines asked for, never the size of the file. A line longer than
MAX_LINE bytes is cut to its last MAX_LINE bytes, and nothing before it is shown:
finding where it begins could mean reading the whole file.
"""

from __future__ import annotations

import os
from collections.abc import Callable

BLOCK = 65536
MAX_LINE = 65536  # the log writer's own bound: a longer line is written in pieces of this size

ReadAt = Callable[[int, int], bytes]  # (offset, size) -> the bytes there


def start_of_last_lines(read_at: ReadAt, end: int, lines: int, max_line: int = MAX_LINE, block: int = BLOCK) -> int:
    """The offset at which the last `lines` lines of the first `end` bytes begin.

    A final newline ends the last line (it does not begin an empty one). Returns `end`
    when no line is asked for, and an offset inside a line longer than `max_line`
    (its last `max_line` bytes, not counting its newline) when one is met.
    """
    if lines <= 0 or end <= 0:
        return end
    line_end = end  # where the line being scanned ends (its newline, or the end)
    pos = end
    first = True
    while pos > 0:
        step = min(block, pos)
        pos -= step
        chunk = read_at(pos, step)
        if len(chunk) != step:  # truncated under us: nothing of the old tail is left to show
            return end
        hi = step
        if first:
            first = False
            if chunk.endswith(b"\n"):
                hi -= 1
                line_end -= 1
        while True:
            nl = chunk.rfind(b"\n", 0, hi)
            begin = pos + nl + 1 if nl >= 0 else pos
            if line_end - begin > max_line:
                return _char_start(read_at, line_end - max_line, line_end)
            if nl < 0:
                break
            lines -= 1
            if lines == 0:
                return begin
            line_end, hi = pos + nl, nl
    return 0


def _char_start(read_at: ReadAt, offset: int, limit: int) -> int:
    """`offset`, moved past UTF-8 continuation bytes so that a cut line starts on a character."""
    head = read_at(offset, min(3, limit - offset))
    skip = 0
    while skip < len(head) and 0x80 <= head[skip] < 0xC0:
        skip += 1
    return offset + skip


def fd_reader(fd: int) -> ReadAt:
    return lambda offset, size: os.pread(fd, size, offset)
