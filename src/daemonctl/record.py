"""The record: how a daemon was started and which process it is, as JSON in the state dir."""

from datetime import datetime, timezone
from typing import Any, NamedTuple

from . import jsonline
from .files import atomic_write, remove
from .procfs import Identity

FORMAT = 1
RUNNING = "running"
STOPPED = "stopped"
# Only with --respawn: waiting out a restart delay; ended and not to be restarted; gave up.
RESTARTING, EXITED, FAILED = "restarting", "exited", "failed"


class CorruptRecord(Exception):
    """A record file exists but cannot be understood."""


class StartSpec(NamedTuple):
    """Everything needed to start the daemon again, with every path absolute."""

    command: list[str]  # argv as given; command[0] is how the user named the program
    executable: str  # the absolute path that is exec'd
    pidfile: str
    stdout: str
    stderr: str
    chdir: str = "/"
    umask: int = 0o022
    env: dict[str, str] = {}  # never changed in place: every change builds a new dict
    wait: float = 0.0
    env_file: str | None = None  # read again at every start
    respawn: str | None = None  # None (plain), "on-failure" or "always"
    restart_delay: float = 1.0
    restart_delay_max: float = 60.0
    min_uptime: float = 10.0
    max_restarts: int = 10
    ready_file: str | None = None
    ready_port: str | None = None  # HOST:PORT
    ready_log: str | None = None  # a regular expression
    notify: bool = False
    ready_timeout: float = 30.0
    user: str | None = None  # as given to --user (name or number), resolved at each start
    group: str | None = None
    nice: int | None = None
    # The environment the program inherits, as the caller of the start that recorded
    # it had it; --env-file and --env go over it. None in records older than it.
    caller_env: dict[str, str] | None = None

    @property
    def readiness(self) -> bool:
        return bool(self.ready_file or self.ready_port or self.ready_log or self.notify)


class Record(NamedTuple):
    name: str
    spec: StartSpec
    state: str = STOPPED
    pid: int | None = None
    starttime: int | None = None
    boot_id: str | None = None
    started_at: str | None = None
    stopped_at: str | None = None
    # With --respawn: pid/starttime are the program's, these the supervisor's.
    supervisor_pid: int | None = None
    supervisor_starttime: int | None = None
    restarts: int = 0
    last_exit: dict[str, Any] | None = None  # {"code" or "signal": int, "at": ISO 8601}
    # The session the program was started in (the intermediate's PID): with pid as the
    # process group, what proves that a dead leader's leftovers are the daemon's.
    sid: int | None = None

    @property
    def identity(self) -> Identity | None:
        if self.pid is None or self.starttime is None or self.boot_id is None:
            return None
        return Identity(self.pid, self.starttime, self.boot_id)

    @property
    def supervisor(self) -> Identity | None:
        if self.supervisor_pid is None or self.supervisor_starttime is None or self.boot_id is None:
            return None
        return Identity(self.supervisor_pid, self.supervisor_starttime, self.boot_id)

    def running(self, identity: Identity, now: datetime | None = None, sid: int | None = None) -> "Record":
        return self._replace(
            state=RUNNING,
            pid=identity.pid,
            starttime=identity.starttime,
            boot_id=identity.boot_id,
            started_at=iso(now),
            stopped_at=None,
            sid=sid,
        )

    def stopped(self, now: datetime | None = None) -> "Record":
        return self._replace(state=STOPPED, stopped_at=iso(now))

    def to_json(self) -> dict[str, Any]:
        spec = self.spec._asdict()
        spec["umask"] = format(self.spec.umask, "03o")
        data = {"format": FORMAT, "name": self.name, "state": self.state, "pid": self.pid}
        data.update(starttime=self.starttime, boot_id=self.boot_id)
        data.update(started_at=self.started_at, stopped_at=self.stopped_at)
        data.update(supervisor_pid=self.supervisor_pid, supervisor_starttime=self.supervisor_starttime)
        data.update(restarts=self.restarts, last_exit=self.last_exit, sid=self.sid)
        data.update(spec)
        return data

    @classmethod
    def from_json(cls, data: Any) -> "Record":
        try:
            spec_keys = set(StartSpec._fields)
            spec_data = {k: v for k, v in data.items() if k in spec_keys}
            spec_data["umask"] = int(str(spec_data.get("umask", "022")), 8)
            spec = StartSpec(**spec_data)
            _check_types(spec)
            return cls(
                name=str(data["name"]),
                spec=spec,
                state=str(data.get("state", STOPPED)),
                pid=_opt_pid(data.get("pid")),
                starttime=_opt_int(data.get("starttime")),
                boot_id=data.get("boot_id"),
                started_at=data.get("started_at"),
                stopped_at=data.get("stopped_at"),
                supervisor_pid=_opt_pid(data.get("supervisor_pid")),
                supervisor_starttime=_opt_int(data.get("supervisor_starttime")),
                restarts=_opt_int(data.get("restarts")) or 0,
                last_exit=_opt_dict(data.get("last_exit")),
                sid=_opt_pid(data.get("sid")),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise CorruptRecord(f"is corrupt: {err}") from err


def _opt_int(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def _opt_pid(value: Any) -> int | None:
    # 0, -1 and 1 would make kill and killpg aim at daemonctl's own group, every
    # process, or init: no daemon has them, so a record that says so is corrupt.
    pid = _opt_int(value)
    if pid is not None and pid <= 1:
        raise ValueError(f"expected a PID of 2 or more, got {pid}")
    return pid


def _opt_dict(value: Any) -> dict[str, Any] | None:
    if value is not None and not isinstance(value, dict):
        raise TypeError(f"expected an object, got {value!r}")
    return value


def _check_types(spec: StartSpec) -> None:
    if not (isinstance(spec.command, list) and spec.command and all(isinstance(a, str) for a in spec.command)):
        raise TypeError("command must be a non-empty list of strings")
    for name in ("executable", "pidfile", "stdout", "stderr", "chdir"):
        if not isinstance(getattr(spec, name), str):
            raise TypeError(f"{name} must be a string")
        # daemonctl writes every path absolute; a relative one would follow the caller's cwd.
        if not getattr(spec, name).startswith("/"):
            raise ValueError(f"{name} must be an absolute path, not {getattr(spec, name)!r}")
    for name in ("user", "group"):
        if getattr(spec, name) is not None and not isinstance(getattr(spec, name), str):
            raise TypeError(f"{name} must be a string")
    _opt_int(spec.nice)
    if not isinstance(spec.env, dict) or not all(isinstance(v, str) for v in spec.env.values()):
        raise TypeError("env must map strings to strings")
    if spec.caller_env is not None:
        check_environment(spec.caller_env)
    if spec.env_file is not None and not isinstance(spec.env_file, str):
        raise TypeError("env_file must be a string")
    if spec.respawn not in (None, "on-failure", "always"):
        raise TypeError(f"respawn must be on-failure or always, not {spec.respawn!r}")


MAX_ENV_BYTES = 2 * 1024 * 1024  # as much as exec takes by default (ARG_MAX)


def check_environment(env: object) -> None:
    """A recorded environment: strings to strings, within MAX_ENV_BYTES. Never quotes a value."""
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise TypeError("caller_env must map strings to strings")
    if sum(len(k) + len(v) + 2 for k, v in env.items()) > MAX_ENV_BYTES:
        raise ValueError(f"caller_env is larger than {MAX_ENV_BYTES} bytes")


def iso(now: datetime | None = None) -> str:
    return (now or datetime.now(timezone.utc)).astimezone(timezone.utc).isoformat(timespec="seconds")


def load(path: str) -> Record | None:
    """The record at `path`, None if there is none; raises CorruptRecord."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise CorruptRecord(f"cannot be read: {err.strerror}") from err
    try:
        data = jsonline.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise CorruptRecord(f"is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise CorruptRecord("is not a JSON object")
    return Record.from_json(data)


def encode(record: Record) -> bytes:
    return (jsonline.dumps(record.to_json()) + "\n").encode("utf-8")


def save(path: str, record: Record) -> None:
    atomic_write(path, encode(record), mode=0o600)


def delete(path: str) -> bool:
    return remove(path)
