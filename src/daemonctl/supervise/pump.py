"""Reading the program's stdout and stderr pipes into the log sink, while waiting for something else.

The log writer and the supervisor are single-threaded (safeopen switches the
effective uid, which threads would share): every wait of theirs (for the
program to end, for a restart delay, for a control line) is a poll that also
reads whatever the pipes bring.
"""

from __future__ import annotations

import fcntl
import os
import select
import time
from collections.abc import Callable

from daemonctl.supervise.logsink import LogSink

# Reads below glibc's mmap threshold (128 KiB): their buffers, and the copies the lines and stamps
# make of them, are reused from the heap instead of being mapped and faulted in afresh for every
# read (measured: 16 times fewer page faults, half the CPU). Several reads per poll keep the
# polls few.
READ_SIZE = 32 << 10
READS_PER_TURN = 32
PIPE_SIZE = 1 << 20  # room for a burst while the writer rotates (the unprivileged maximum)
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
INPUT = select.POLLIN | select.POLLHUP | select.POLLERR
DATA, EMPTY, ENDED = 1, 2, 0


def widen(fd: int) -> None:
    """A larger pipe buffer, where the system allows it (a smaller one works all the same)."""
    try:
        fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE)
    except OSError:
        pass


class Pump:
    """The read ends of the program's pipes (stream 0 stdout, 1 stderr), feeding `sink`."""

    def __init__(self, sink: LogSink, fds: tuple[int, int], clock: Callable[[], float] = time.monotonic) -> None:
        self.sink, self.clock = sink, clock
        self.streams: dict[int, int] = {}
        for stream, fd in enumerate(fds):
            if fd not in self.streams:
                os.set_blocking(fd, False)
                self.streams[fd] = stream

    @property
    def open(self) -> bool:
        return bool(self.streams)

    def wait(self, others: list[int], timeout: float | None) -> set[int]:
        """Read the pipes until one of `others` is readable (returned), `timeout` passes, or the pipes end."""
        deadline = None if timeout is None else self.clock() + timeout
        poller = select.poll()
        for fd in (*self.streams, *others):
            poller.register(fd, INPUT)
        while self.streams or others:
            left = None if deadline is None else max(deadline - self.clock(), 0.0)
            events = poller.poll(None if left is None else left * 1000)
            ready = set()
            for fd, _ in events:
                if fd in self.streams:
                    if self._read_some(fd) == ENDED:
                        poller.unregister(fd)
                elif fd in others:
                    ready.add(fd)
            if ready or (deadline is not None and self.clock() >= deadline):
                return ready
        return set()

    def drain(self) -> None:
        """Read what the pipes hold now, without waiting."""
        for fd in list(self.streams):
            while self._read(fd) == DATA:
                pass

    def _read_some(self, fd: int) -> int:
        """Read `fd` until it is empty, or READS_PER_TURN times (the other stream gets its turn)."""
        for _ in range(READS_PER_TURN):
            result = self._read(fd)
            if result != DATA:
                return result
        return DATA

    def _read(self, fd: int) -> int:
        """Read once from `fd`: DATA, EMPTY (nothing there now) or ENDED (closed, its last line written)."""
        try:
            data = os.read(fd, READ_SIZE)
        except BlockingIOError:
            return EMPTY
        except OSError:
            data = b""
        stream = self.streams[fd]
        if not data:
            del self.streams[fd]
            os.close(fd)
            self.sink.end(stream)
            return ENDED
        self.sink.feed(stream, data)
        return DATA

    def end_of_run(self) -> None:
        """The program ended: what it left in the pipes, and its unfinished lines, are written."""
        self.drain()
        for stream in (0, 1):
            self.sink.end(stream)

    def close(self) -> None:
        for fd in list(self.streams):
            os.close(fd)
        self.streams.clear()
