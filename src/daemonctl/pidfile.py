"""The pidfile: the decimal PID and a newline, nothing else, so any tool can read it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .files import AtomicFile, atomic_write

MAX_PIDFILE_BYTES = 64


class InvalidPidfile(Exception):
    """The pidfile exists but cannot be read or holds no valid PID."""


@dataclass(frozen=True)
class PidfileContents:
    path: Path
    pid: int | None  # None: no pidfile


def parse_pid(text: str, own_pid: int | None = None) -> int:
    """The PID in a pidfile's text; raises InvalidPidfile unless it is a valid PID.

    Valid means a positive decimal integer other than 1 and other than our own
    PID: anything else could turn into kill(0), kill(-1) or signalling init.
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
    return pid


def read(path: Path) -> PidfileContents:
    """Read a pidfile; `pid` is None when there is none. Raises InvalidPidfile."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_PIDFILE_BYTES + 1)
    except FileNotFoundError:
        return PidfileContents(path, None)
    except OSError as err:
        raise InvalidPidfile(f"cannot be read: {err.strerror}") from err
    if len(raw) > MAX_PIDFILE_BYTES:
        raise InvalidPidfile("is too long to hold a PID")
    return PidfileContents(path, parse_pid(raw.decode("ascii", errors="replace")))


def encode(pid: int) -> bytes:
    return f"{pid}\n".encode("ascii")


def write(path: Path, pid: int) -> None:
    atomic_write(path, encode(pid))


def prepare(path: Path) -> AtomicFile:
    """Open the pidfile's replacement now; commit it with `encode(pid)` once the PID is known."""
    return AtomicFile(path)
