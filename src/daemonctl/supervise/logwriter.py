"""The log writer of a plain start (`python -P -m daemonctl.supervise.logwriter`).

Started by `start` when --log-max-size, --log-timestamps or --syslog is given
without --respawn (with --respawn the supervisor does this work itself). Like
the supervisor it is an interpreter of its own running a small module: no
Click, no psutil.

Its descriptors: 0 is a pipe from daemonctl carrying one line of JSON (the
record and where syslog is), then the program's PID once it is known (nothing
if it never started); 1 is /dev/null; 2 is the stderr log as `start` opened it
(for a crash of the writer itself); 3 and 4 are the read ends of the program's
stdout and stderr pipes; 5 holds the daemon's writer lock, which `start` took
for it (store/writerlock.py). It ends once both pipes are closed by every
process that held them (the program and whatever it started) and their lines
are written, and lets go of the lock last.
"""

from __future__ import annotations

import os

from daemonctl.proc.privileges import credentials_of, pinned
from daemonctl.supervise.logsink import LogSettings, build_sink, set_timezone
from daemonctl.supervise.pump import Pump, widen

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

STDOUT_PIPE, STDERR_PIPE, LOCK = 3, 4, 5


def read_line(fd: int) -> bytes:
    """One line from `fd`, read a byte at a time past the first block (nothing beyond it is consumed)."""
    data = b""
    while not data.endswith(b"\n"):
        byte = os.read(fd, 1)
        if not byte:
            break
        data += byte
    return data


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
    sink = build_sink(LogSettings(record, config.get("syslog_socket") or "/dev/log"), creds)
    if pid_line.strip().isdigit():
        sink.set_pid(int(pid_line))
    pump = Pump(sink, (STDOUT_PIPE, STDERR_PIPE))
    pump.wait([], None)
    sink.close()
    os.close(LOCK)  # the last lines are written: stop may return
    return 0


if __name__ == "__main__":  # pragma: no cover - the resident process
    raise SystemExit(main())
