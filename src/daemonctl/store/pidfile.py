"""The pidfile: the decimal PID and a newline, nothing else, so any tool can read it."""

import errno
import os

from daemonctl.speedups import NamedTuple
from daemonctl.store.atomic import AtomicFile, atomic_write
from daemonctl.store.safeopen import Refused, Rights, open_read

MAX_PIDFILE_BYTES = 64
PID_LIMIT = 1 << 22  # the kernel's PID_MAX_LIMIT: pid_max can be raised to it, and PIDs stay below


class InvalidPidfile(Exception):
    """The pidfile exists but cannot be read or holds no valid PID."""


class UnsafePidfile(InvalidPidfile):
    """The pidfile is a symbolic link or a special file, which is never followed or read."""


class PidfileNotPermitted(InvalidPidfile):
    """The caller may not read the pidfile: insufficient privilege, not a bad pidfile."""


class PidfileContents(NamedTuple):
    path: str
    pid: int | None  # None: no pidfile
    stat: os.stat_result | None = None  # of the file as it was read


def parse_pid(text: str, own_pid: int | None = None) -> int:
    """The PID in a pidfile's text; raises InvalidPidfile unless it is a valid PID.

    Valid means a positive decimal integer other than 1 and other than our own
    PID: anything else could turn into kill(0), kill(-1) or signalling init. A
    number no process can have is not a PID either (the pidfile is not "dead").
    """
    own = os.getpid() if own_pid is None else own_pid
    stripped = text.strip()
    if not stripped:
        raise InvalidPidfile("is empty")
    if not stripped.isascii() or not stripped.isdigit():
        raise InvalidPidfile(f"holds {stripped[:20]!r}, not a PID")
    pid = int(stripped)
    if pid <= 1 or pid == own:
        raise InvalidPidfile(f"holds {pid}, which is not a valid daemon PID")
    if pid >= PID_LIMIT:
        raise InvalidPidfile(f"holds {stripped}, which is not a PID: Linux PIDs stay below {PID_LIMIT}")
    return pid


MAX_PROGRAM_PIDFILE_BYTES = 4096  # postmaster.pid holds more lines after the PID


def read(path: str, rights: Rights | None = None, first_line: bool = False) -> PidfileContents:
    """Read a pidfile; `pid` is None when there is none. Raises InvalidPidfile.

    `rights`: the daemon's user, whose rights read it where that user can change
    what the path names (see safeopen). `first_line`: a program's own pidfile
    (--pid-from), whose PID is its first line, as systemd's PIDFile= reads it
    (PostgreSQL's postmaster.pid goes on with its data directory, port, ...).
    """
    limit = MAX_PROGRAM_PIDFILE_BYTES if first_line else MAX_PIDFILE_BYTES
    # Never through a symlink, never blocking on a FIFO (see safeopen): whoever
    # planted it would pick the PID, or hang us.
    try:
        fd = open_read(path, "pidfile", rights)
    except FileNotFoundError:
        return PidfileContents(path, None)
    except OSError as err:
        raise InvalidPidfile(f"cannot be read: {err.strerror}") from err
    except Refused as err:
        if err.errno == errno.ELOOP:
            raise UnsafePidfile("is a symbolic link; refusing to follow it") from None
        if err.trust:
            raise UnsafePidfile("is not a regular file; refusing to read it") from None
        reason = f"cannot be read: {os.strerror(err.errno) if err.errno else err}"
        if err.errno in (errno.EACCES, errno.EPERM):
            raise PidfileNotPermitted(reason) from None
        raise InvalidPidfile(reason) from None
    try:
        st = os.fstat(fd)
        raw = os.read(fd, limit + 1)
    except OSError as err:
        raise InvalidPidfile(f"cannot be read: {err.strerror}") from err
    finally:
        os.close(fd)
    if len(raw) > limit:
        raise InvalidPidfile("is too long to hold a PID")
    if first_line:
        raw = raw.partition(b"\n")[0]  # some programs end it with no newline
    return PidfileContents(path, parse_pid(raw.decode("ascii", errors="replace")), st)


def encode(pid: int) -> bytes:
    return f"{pid}\n".encode("ascii")


def write(path: str, pid: int, rights: Rights | None = None) -> None:
    atomic_write(path, encode(pid), rights=rights)


def prepare(path: str, rights: Rights | None = None) -> AtomicFile:
    """Open the pidfile's replacement now; commit it with `encode(pid)` once the PID is known."""
    return AtomicFile(path, rights=rights)
