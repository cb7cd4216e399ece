"""The exceptions of daemonctl, each carrying its exit code (exitcodes.py).

Every failure in daemonctl is raised as a subclass of `DaemonctlError`, a plain
exception that knows nothing of output: the CLI (cli/error_handler.py) turns it
into one line on stderr and its exit code. Dependency-free, so the resident
supervisor may import it.
"""

from __future__ import annotations

from daemonctl.exitcodes import ExitStatus, for_signal


class DaemonctlError(Exception):
    """Base of every error daemonctl reports: a message, its exit code and, for a failed start, its log's last lines."""

    exit_code: int = ExitStatus.FAILURE

    def __init__(self, message: str, log_tail: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.log_tail = log_tail or []

    def __str__(self) -> str:
        return self.message


class Failure(DaemonctlError):
    exit_code = ExitStatus.FAILURE


class UnreadableRecord(Failure):
    """A record that exists but cannot be read or understood: for status, the status is unknown."""


class BadRecord(UnreadableRecord):
    """A record that was read but is not a whole, valid one (store/schema.py): `remove` may forget it."""


class StartInterrupted(DaemonctlError):
    """A start undone because a signal interrupted it: exits 128 + the signal's number."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.exit_code = for_signal(signum)


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
