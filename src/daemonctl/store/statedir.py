"""Where daemonctl keeps its state, and the names it accepts."""

import os

from daemonctl.errors import Failure, PrivilegeError, UsageError
from daemonctl.speedups import NamedTuple
from daemonctl.store.trust import check_state_dir

ENV_STATE_DIR = "DAEMONCTL_STATE_DIR"
# A name: [A-Za-z0-9_@][A-Za-z0-9_.@-]{0,63}, checked without compiling that (0.15 ms of every command).
NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.@-")
RECORD_SUFFIX = ".json"


def is_name(name: str) -> bool:
    return 0 < len(name) <= 64 and name[0] not in ".-" and NAME_CHARS.issuperset(name)


def validate_name(name: str) -> str:
    if not is_name(name):
        raise UsageError(
            f"invalid name {name!r}: use 1-64 characters from A-Z a-z 0-9 _ . @ -, "
            "not starting with '.' or '-'"
        )
    return name


def default_state_dir(environ: dict[str, str] | os._Environ[str] = os.environ) -> str:
    if environ.get(ENV_STATE_DIR):
        return environ[ENV_STATE_DIR]
    if os.geteuid() == 0:
        return "/var/lib/daemonctl"
    xdg = environ.get("XDG_STATE_HOME") or os.path.join(
        environ.get("HOME") or os.path.expanduser("~"), ".local", "state"
    )
    return os.path.join(xdg, "daemonctl")


class StateDir(NamedTuple):
    path: str  # absolute; plain strings keep pathlib off the path of every command

    @classmethod
    def resolve(cls, option: str | None) -> "StateDir":
        state = cls(os.path.abspath(option or default_state_dir()))
        check_state_dir(state.path)
        return state

    def ensure(self) -> None:
        """Create the directory on first use: 0700 for users, 0755 for root."""
        mode = 0o755 if os.geteuid() == 0 else 0o700
        try:
            os.makedirs(self.path, mode=mode, exist_ok=True)
        except PermissionError as err:
            raise PrivilegeError(f"cannot create state directory {self.path}: {err.strerror}") from None
        except OSError as err:
            raise Failure(f"cannot create state directory {self.path}: {err.strerror}") from None
        if not os.path.isdir(self.path):
            raise Failure(f"state directory {self.path} is not a directory")
        check_state_dir(self.path)

    def pidfile(self, name: str) -> str:
        return os.path.join(self.path, f"{name}.pid")

    def record(self, name: str) -> str:
        return os.path.join(self.path, f"{name}{RECORD_SUFFIX}")

    def log(self, name: str) -> str:
        return os.path.join(self.path, f"{name}.log")

    def lock(self, name: str) -> str:
        return os.path.join(self.path, f"{name}.lock")

    def writer_lock(self, name: str) -> str:
        """Held by the daemon's log writer (or supervisor) while it writes the logs."""
        return os.path.join(self.path, f"{name}.writer.lock")

    def names(self) -> list[str]:
        """Names of every daemon with a record here, sorted."""
        try:
            entries = os.listdir(self.path)
        except FileNotFoundError:
            return []
        except OSError as err:
            raise Failure(f"cannot read state directory {self.path}: {err.strerror}") from None
        names = [e[: -len(RECORD_SUFFIX)] for e in entries if e.endswith(RECORD_SUFFIX)]
        return sorted(n for n in names if is_name(n))
