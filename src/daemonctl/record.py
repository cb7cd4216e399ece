"""The record: how a daemon was started and which process it is, as JSON in the state dir."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .files import atomic_write, remove
from .procfs import Identity

FORMAT = 1
RUNNING = "running"
STOPPED = "stopped"


class CorruptRecord(Exception):
    """A record file exists but cannot be understood."""


@dataclass(frozen=True)
class StartSpec:
    """Everything needed to start the daemon again, with every path absolute."""

    command: list[str]  # argv as given; command[0] is how the user named the program
    executable: str  # the absolute path that is exec'd
    pidfile: str
    stdout: str
    stderr: str
    chdir: str = "/"
    umask: int = 0o022
    env: dict[str, str] = field(default_factory=dict)
    wait: float = 0.0
    user: str | None = None  # as given to --user (name or number), resolved at each start
    group: str | None = None
    nice: int | None = None


@dataclass(frozen=True)
class Record:
    name: str
    spec: StartSpec
    state: str = STOPPED
    pid: int | None = None
    starttime: int | None = None
    boot_id: str | None = None
    started_at: str | None = None
    stopped_at: str | None = None

    @property
    def identity(self) -> Identity | None:
        if self.pid is None or self.starttime is None or self.boot_id is None:
            return None
        return Identity(self.pid, self.starttime, self.boot_id)

    def running(self, identity: Identity, now: datetime | None = None) -> Record:
        return replace(
            self,
            state=RUNNING,
            pid=identity.pid,
            starttime=identity.starttime,
            boot_id=identity.boot_id,
            started_at=iso(now),
            stopped_at=None,
        )

    def stopped(self, now: datetime | None = None) -> Record:
        return replace(self, state=STOPPED, stopped_at=iso(now))

    def to_json(self) -> dict[str, Any]:
        spec = asdict(self.spec)
        spec["umask"] = format(self.spec.umask, "03o")
        data = {"format": FORMAT, "name": self.name, "state": self.state, "pid": self.pid}
        data.update(starttime=self.starttime, boot_id=self.boot_id)
        data.update(started_at=self.started_at, stopped_at=self.stopped_at)
        data.update(spec)
        return data

    @classmethod
    def from_json(cls, data: Any) -> Record:
        try:
            spec_keys = {f.name for f in fields(StartSpec)}
            spec_data = {k: v for k, v in data.items() if k in spec_keys}
            spec_data["umask"] = int(str(spec_data.get("umask", "022")), 8)
            spec = StartSpec(**spec_data)
            _check_types(spec)
            return cls(
                name=str(data["name"]),
                spec=spec,
                state=str(data.get("state", STOPPED)),
                pid=_opt_int(data.get("pid")),
                starttime=_opt_int(data.get("starttime")),
                boot_id=data.get("boot_id"),
                started_at=data.get("started_at"),
                stopped_at=data.get("stopped_at"),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise CorruptRecord(str(err)) from err


def _opt_int(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def _check_types(spec: StartSpec) -> None:
    if not (isinstance(spec.command, list) and spec.command and all(isinstance(a, str) for a in spec.command)):
        raise TypeError("command must be a non-empty list of strings")
    for name in ("executable", "pidfile", "stdout", "stderr", "chdir"):
        if not isinstance(getattr(spec, name), str):
            raise TypeError(f"{name} must be a string")
    for name in ("user", "group"):
        if getattr(spec, name) is not None and not isinstance(getattr(spec, name), str):
            raise TypeError(f"{name} must be a string")
    _opt_int(spec.nice)
    if not isinstance(spec.env, dict) or not all(isinstance(v, str) for v in spec.env.values()):
        raise TypeError("env must map strings to strings")


def iso(now: datetime | None = None) -> str:
    return (now or datetime.now(timezone.utc)).astimezone(timezone.utc).isoformat(timespec="seconds")


def load(path: Path) -> Record | None:
    """The record at `path`, None if there is none; raises CorruptRecord."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise CorruptRecord(f"cannot be read: {err.strerror}") from err
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise CorruptRecord(f"is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise CorruptRecord("is not a JSON object")
    return Record.from_json(data)


def encode(record: Record) -> bytes:
    return (json.dumps(record.to_json(), indent=2) + "\n").encode("utf-8")


def save(path: Path, record: Record) -> None:
    atomic_write(path, encode(record), mode=0o600)


def delete(path: Path) -> bool:
    return remove(path)
