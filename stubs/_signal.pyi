# The C module behind `signal` (CPython, no stub in typeshed): the functions of `signal`
# without its IntEnum wrapping, so signals and handler constants are plain ints. Only what
# daemonctl uses is declared: mypy then rejects a use of anything else until it is added here.
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

_Handler = Callable[[int, FrameType | None], Any] | int | None

SIG_DFL: int
SIG_IGN: int
SIG_BLOCK: int
SIG_UNBLOCK: int
SIG_SETMASK: int

SIGHUP: int
SIGINT: int
SIGKILL: int
SIGSTOP: int
SIGTERM: int
SIGCONT: int
SIGTSTP: int
SIGTTIN: int
SIGTTOU: int

def signal(signalnum: int, handler: _Handler, /) -> _Handler: ...
def getsignal(signalnum: int, /) -> _Handler: ...
def pthread_sigmask(how: int, mask: Iterable[int], /) -> set[int]: ...
def valid_signals() -> set[int]: ...
def pidfd_send_signal(pidfd: int, sig: int, siginfo: None = None, flags: int = 0, /) -> None: ...
