"""The log writer of a plain start (`python -P -m daemonctl.supervise.logwriter`).

Started by `start` when --log-max-size, --log-timestamps or --syslog is given
without --respawn (with --respawn the supervisor does this work itself). Like
the supervisor it is an interpreter of its own running a small module: no
Click, no psutil.

Its descriptors: 0 is a pipe from daemonctl carrying one line of JSON (the
record and where syslog is), then the program's PID once it is known (nothing
if it never started); 1 is /dev/null; 2 is the stderr log as `start` opened it
(for a crash of the writer itself); 3 and 4 are the read ends of the program's
stdout and stderr pipes. It ends once both pipes are closed by every process
that held them (the program and whatever it started) and their lines are
written.

One writer per daemon at a time: it holds a lock (LOCK_PATH's flock) while it
writes, so a writer still draining the output of a stopped run and the writer
of the next run never rotate the same files at once, and `stop` waits on it to
return only once the last lines are in the log.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from typing import Any

from daemonctl.proc.privileges import credentials_of, pinned
from daemonctl.supervise.logsink import LogSettings, build_sink, set_timezone
from daemonctl.supervise.pump import Pump, widen

STDOUT_PIPE, STDERR_PIPE = 3, 4


def read_line(fd: int) -> bytes:
    """One line from `fd`, read a byte at a time past the first block (nothing beyond it is consumed)."""
    data = b""
    while not data.endswith(b"\n"):
        byte = os.read(fd, 1)
        if not byte:
            break
        data += byte
    return data


LOCK_WAIT = 10.0  # seconds a previous writer may take to finish before we write alongside it


def hold_lock(path: str, wait: float = LOCK_WAIT, sleep: Callable[[float], None] = time.sleep) -> int:
    """The writer's lock of this daemon (an fd holding it), waited for while a previous writer drains.

    Never for more than `wait`: a previous writer kept alive by something its program left
    running (holding the old pipes) must not block the new program once its pipes are full.
    Past that, the fd is returned without the lock, and both write for a while.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return fd
            sleep(0.01)


def main() -> int:
    import json

    config: dict[str, Any] = json.loads(read_line(0))
    record = config["record"]
    set_timezone(config.get("tz"))
    creds = pinned(credentials_of(record.get("user"), record.get("group")))
    pid_line = read_line(0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    for fd in (STDOUT_PIPE, STDERR_PIPE):
        widen(fd)
    lock = hold_lock(config["lock_path"])
    sink = build_sink(LogSettings(record, config.get("syslog_socket") or "/dev/log"), creds)
    if pid_line.strip().isdigit():
        sink.set_pid(int(pid_line))
    pump = Pump(sink, (STDOUT_PIPE, STDERR_PIPE))
    pump.wait([], None)
    sink.close()
    os.close(lock)
    return 0


if __name__ == "__main__":  # pragma: no cover - the resident process
    raise SystemExit(main())
