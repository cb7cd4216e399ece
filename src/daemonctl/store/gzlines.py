"""The last lines of a compressed rotated log (logrotate's `compress`: LOG.2.gz, LOG.3.gz, ...).

A gzip stream cannot be read backwards: the file is decompressed once, front to back, and
only its last lines are kept, trimmed as it goes, so memory is bounded by the lines asked
for (with lastlines' cut of a line longer than MAX_LINE), never by the file. Imported only
when such a file is actually read: gzip costs its import time.
"""

import gzip
import io
import zlib

from daemonctl.speedups import NamedTuple
from daemonctl.store.lastlines import BLOCK, MAX_LINE, start_of_last_lines


class Tail(NamedTuple):
    data: bytes  # the last lines asked for (fewer if the file holds fewer)
    whole: bool  # True: that is the whole file, so older files may hold more of the lines asked for


def last_lines_of(fd: int, lines: int, block: int = BLOCK, max_line: int = MAX_LINE, most: int | None = None) -> Tail:
    """The last `lines` lines of the gzip file open on `fd` (not closed here), at most their
    last `most` bytes (then not whole: the first line is cut at its start).

    A file that is not gzip, or is cut short or corrupt, gives what could be decompressed of
    it and counts as not whole: lines before a gap are not shown as if they came just before.
    """
    kept = bytearray()
    whole = True
    trim_at = 4 * block  # trimmed when the buffer reaches this; then twice what was kept, so the work stays linear
    try:
        with gzip.GzipFile(fileobj=io.FileIO(fd, "rb", closefd=False)) as stream:
            while chunk := stream.read(block):
                kept += chunk
                if len(kept) >= trim_at:
                    start = _start(kept, lines, max_line, most)
                    if start > 0:
                        del kept[:start]
                        whole = False
                    trim_at = max(4 * block, 2 * len(kept))
    except (OSError, EOFError, zlib.error):
        whole = False
    start = _start(kept, lines, max_line, most)
    return Tail(bytes(kept[start:]), whole and start == 0)


def _start(data: bytearray, lines: int, max_line: int, most: int | None) -> int:
    view = memoryview(data)
    try:
        start = start_of_last_lines(lambda offset, size: bytes(view[offset:offset + size]), len(data), lines, max_line)
    finally:
        view.release()
    return start if most is None else max(start, len(data) - most)
