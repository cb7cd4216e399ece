"""Exit codes (LSB init-script conventions) and the exceptions that carry them.

Every failure in daemonctl is raised as a subclass of `DaemonctlError`; the CLI
turns it into one line on stderr and the exit code of its class.
"""

from __future__ import annotations

import enum
from typing import IO, Any

import click


class ExitStatus(enum.IntEnum):
    OK = 0
    FAILURE = 1  # start: generic failure; stop: still running; status: dead with pidfile
    USAGE = 2
    NOT_RUNNING = 3  # status
    PRIVILEGE = 4  # insufficient privilege; status: state unknown
    NOT_FOUND = 5  # start: program not found or not executable
    NO_PROGRAM = 6  # start: no program given and no record of NAME
    SIGNAL_NOT_RUNNING = 7  # signal: the daemon is not running


class DaemonctlError(click.ClickException):
    """Base of every error daemonctl reports; `exit_code` is an ExitStatus."""

    exit_code = ExitStatus.FAILURE

    def __init__(self, message: str, log_tail: list[str] | None = None) -> None:
        super().__init__(message)
        self.log_tail = log_tail or []

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"daemonctl: error: {self.format_message()}", err=True, file=file)
        if self.log_tail:
            click.echo("last lines of its log:", err=True, file=file)
            for line in self.log_tail:
                click.echo(f"  | {line}", err=True, file=file)


class Failure(DaemonctlError):
    exit_code = ExitStatus.FAILURE


class UnreadableRecord(Failure):
    """A record that exists but cannot be read or understood: for status, the status is unknown."""


class BadRecord(UnreadableRecord):
    """A record that was read but is not a whole, valid one (recordformat): `remove` may forget it."""


class StartInterrupted(DaemonctlError):
    """A start undone because a signal interrupted it: exits 128 + the signal's number."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        # Click declares exit_code a ClassVar; this one error's code depends on the signal.
        self.exit_code = 128 + signum  # type: ignore[misc,assignment]


class PrivilegeError(DaemonctlError):
    exit_code = ExitStatus.PRIVILEGE


class RecordNotPermitted(UnreadableRecord, PrivilegeError):
    """A record the caller may not read (it is mode 0600): insufficient privilege."""

    exit_code = ExitStatus.PRIVILEGE


class UsageError(DaemonctlError):
    exit_code = ExitStatus.USAGE


class NotRunning(DaemonctlError):
    exit_code = ExitStatus.NOT_RUNNING


class StatusUnknown(DaemonctlError):
    """status: the pidfile is unreadable or holds no valid PID (shares code 4)."""

    exit_code = ExitStatus.PRIVILEGE


class ProgramNotFound(DaemonctlError):
    exit_code = ExitStatus.NOT_FOUND


class NoProgram(DaemonctlError):
    exit_code = ExitStatus.NO_PROGRAM


class SignalNotRunning(DaemonctlError):
    exit_code = ExitStatus.SIGNAL_NOT_RUNNING


def from_oserror(err: OSError, what: str) -> DaemonctlError:
    """Map an OSError met while doing `what` to privilege (4) or failure (1)."""
    import errno

    message = f"{what}: {err.strerror or err}"
    if err.errno in (errno.EPERM, errno.EACCES):
        return PrivilegeError(message)
    return Failure(message)
