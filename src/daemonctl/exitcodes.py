"""The exit codes of daemonctl: LSB init-script conventions, and 128 + N for a signal.

Dependency-free, so every part of daemonctl (the resident supervisor too) may name them.
"""

from enum import IntEnum, unique


@unique
class ExitStatus(IntEnum):
    OK = 0
    FAILURE = 1  # start: generic failure; stop: still running; status: dead with pidfile
    USAGE = 2
    NOT_RUNNING = 3  # status
    PRIVILEGE = 4  # insufficient privilege; status: state unknown
    NOT_FOUND = 5  # start: program not found or not executable
    NO_PROGRAM = 6  # start: no program given and no record of NAME
    SIGNAL_NOT_RUNNING = 7  # signal: the daemon is not running
    HANGUP = 129  # 128 + SIGHUP: a start undone because the terminal hung up
    INTERRUPTED = 130  # 128 + SIGINT: Ctrl-C
    BROKEN_PIPE = 141  # 128 + SIGPIPE: stdout closed under a command that was still writing
    TERMINATED = 143  # 128 + SIGTERM


def for_signal(signum: int) -> int:
    """The shell's code for "ended by signal `signum`": 128 + its number (an ExitStatus where it has a name)."""
    code = 128 + signum
    try:
        return ExitStatus(code)
    except ValueError:
        return code
