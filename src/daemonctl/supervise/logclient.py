"""daemonctl's side of the log writer: its pipes, starting it, and waiting until it has drained.

`start` without --respawn but with a log option creates the program's two
pipes, starts the writer (detached, like a daemon) with their read ends, and
gives the program their write ends as stdout and stderr. The writer learns the
program's PID (syslog's tag) before the program may exec.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from daemonctl.proc.procfs import Identity
from daemonctl.proc.spawn import Launch, spawn
from daemonctl.store.writerlock import hold_lock
from daemonctl.supervise import resident_environ

WRITER_MODULE = "daemonctl.supervise.logwriter"


class WriterPipes:
    """The program's stdout and stderr pipes, and the control pipe to the writer."""

    def __init__(self) -> None:
        self.fds: list[int] = []
        try:
            self.out_read, self.out_write = self._pipe()
            self.err_read, self.err_write = self._pipe()
            self.ctl_read, self.ctl_write = self._pipe()
        except BaseException:
            self.close()
            raise

    def _pipe(self) -> tuple[int, int]:
        read, write = os.pipe2(os.O_CLOEXEC)
        self.fds += [read, write]
        return read, write

    def tell_pid(self, pid: int) -> None:
        """The program's PID to the writer (before the program may exec), and the end of the control pipe."""
        self.send(f"{pid}\n".encode())
        self.close_one(self.ctl_write)

    def send(self, data: bytes) -> None:
        """To the writer, over the control pipe (while it is open)."""
        if self.ctl_write not in self.fds:
            return
        try:
            os.write(self.ctl_write, data)
        except OSError:
            pass  # the writer died: the program's writes will fail, which its log cannot say

    def close_one(self, fd: int) -> None:
        if fd in self.fds:
            self.fds.remove(fd)
            os.close(fd)

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []


LOG_FIELDS = ("stdout", "stderr", "log_max_size", "log_keep", "log_timestamps", "syslog", "user", "group")


def writer_config(name: str, spec: Any, lock_path: str, env: dict[str, str], environ: dict[str, str]) -> dict[str, Any]:
    """What the writer (or the supervisor) needs to write the logs of `spec` (a StartSpec): its log
    options, syslog's socket, and the daemon's TZ (from `env`, the program's environment)."""
    return {
        "record": {"name": name, **{key: getattr(spec, key) for key in LOG_FIELDS}},
        "lock_path": lock_path,
        "tz": env.get("TZ"),
        # A test (or a container with its syslog socket elsewhere) may name another socket.
        "syslog_socket": environ.get("DAEMONCTL_SYSLOG_SOCKET") or "/dev/log",
    }


def spawn_writer(config: dict[str, Any], pipes: WriterPipes, stderr_fd: int) -> Identity:
    """Start the writer, detached; SpawnError if it cannot start. The program is started next."""
    pipes.send(json.dumps(config).encode("utf-8") + b"\n")
    # Taken here, before the program can write a line, and inherited by the writer (see writerlock).
    lock = hold_lock(config["lock_path"])
    try:
        devnull = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
    except BaseException:
        os.close(lock)
        raise
    try:
        argv = [sys.executable, "-P", "-m", WRITER_MODULE]
        launch = Launch(
            sys.executable, argv, resident_environ(), "/", 0o022, devnull, stderr_fd,
            stdin_fd=pipes.ctl_read, pass_fds=(pipes.out_read, pipes.err_read, lock),
        )
        identity = spawn(launch)
    finally:
        os.close(devnull)
        os.close(lock)
    # The writer holds its own copies now: ours would keep the pipes open after it ends.
    for fd in (pipes.ctl_read, pipes.out_read, pipes.err_read):
        pipes.close_one(fd)
    return identity
