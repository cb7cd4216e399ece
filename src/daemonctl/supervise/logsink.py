"""Where the program's output goes once the log writer has read it: files, stamps, syslog.

Stream 0 is stdout, stream 1 stderr. Each is cut into whole lines of its own (a
line of one stream is never mixed into a line of the other), stamped once per
read when --log-timestamps asks, appended to its log (one RotatingLog for both
when they share a file, so rotation sees every line of the file) and sent to
syslog (stdout at info, stderr at err) when --syslog asks.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from daemonctl.store.rotation import RotatingLog, SafeOps
from daemonctl.supervise.lines import LineBuffer, LocalStamp, stamp
from daemonctl.supervise.syslog import DEV_LOG, ERR, FACILITIES, INFO, Syslog

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from daemonctl.proc.privileges import Credentials

STDOUT, STDERR = 0, 1
SEVERITY = (INFO, ERR)


class LogSettings:
    """The log options of a record (its plain JSON), and where syslog is."""

    def __init__(self, data: dict[str, Any], syslog_socket: str = DEV_LOG) -> None:
        self.name: str = data["name"]
        self.paths: tuple[str, str] = (data["stdout"], data["stderr"])
        self.max_size: int | None = data.get("log_max_size")
        self.keep: int = data.get("log_keep", 5)
        self.timestamps: bool = bool(data.get("log_timestamps"))
        self.syslog: str | None = data.get("syslog")
        self.syslog_socket = syslog_socket


def wanted(data: dict[str, Any]) -> bool:
    """Whether a record's options need a log writer at all (else the program writes its files itself)."""
    return bool(data.get("log_max_size") or data.get("log_timestamps") or data.get("syslog"))


class LogSink:
    def __init__(
        self,
        logs: tuple[RotatingLog | None, RotatingLog | None],
        stamper: Callable[[], bytes] | None = None,
        syslog: Syslog | None = None,
    ) -> None:
        self.logs, self.stamper, self.syslog = logs, stamper, syslog
        self.buffers = (LineBuffer(), LineBuffer())

    def feed(self, stream: int, data: bytes) -> None:
        self._write(stream, self.buffers[stream].feed(data))

    def end(self, stream: int) -> None:
        """The stream ended (or the program did): its unfinished line is written as a line."""
        self._write(stream, self.buffers[stream].flush())

    def _write(self, stream: int, lines: bytes) -> None:
        if not lines:
            return
        log = self.logs[stream]
        if log is not None:
            log.write(stamp(lines, self.stamper()) if self.stamper is not None else lines)
        if self.syslog is not None:
            self.syslog.send(lines, SEVERITY[stream])

    def tell(self, message: str) -> None:
        """One line of daemonctl's own, where the program's stderr goes."""
        self._write(STDERR, message.encode("utf-8", "replace") + b"\n")

    def set_pid(self, pid: int) -> None:
        if self.syslog is not None:
            self.syslog.pid = pid

    def close(self) -> None:
        for stream in (STDOUT, STDERR):
            self.end(stream)
        closed: set[int] = set()
        for log in self.logs:
            if log is not None and id(log) not in closed:
                closed.add(id(log))
                log.close()
        if self.syslog is not None:
            self.syslog.close()


def build_sink(settings: LogSettings, owner: Credentials | None) -> LogSink:
    """The sink of a daemon's log options; files opened now (an unopenable one drops until it can be opened)."""
    stamper = LocalStamp() if settings.timestamps else None
    ops = SafeOps(owner)
    logs: list[RotatingLog | None] = []
    for path in settings.paths:
        if path == os.devnull:
            logs.append(None)
        elif logs and path == settings.paths[0] and logs[0] is not None:
            logs.append(logs[0])
        else:
            logs.append(RotatingLog(path, settings.max_size, settings.keep, ops, stamp=stamper))
    syslog = None
    if settings.syslog is not None:
        syslog = Syslog(FACILITIES[settings.syslog], settings.name, settings.syslog_socket)
    return LogSink((logs[0], logs[1]), stamper, syslog)


def set_timezone(tz: str | None) -> None:
    """Local time is the daemon's: the TZ of its environment (the system's when it has none)."""
    import time

    if tz is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = tz
    time.tzset()
