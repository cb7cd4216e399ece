"""The record: how a daemon was started and which process it is, as JSON in the state dir."""

from datetime import UTC, datetime
from typing import Any

from daemonctl.errors import Failure
from daemonctl.proc.procfs import Identity
from daemonctl.speedups import NamedTuple
from daemonctl.start_options import CONVERTED, DEFAULTS
from daemonctl.states import RUNNING, STOPPED
from daemonctl.store import checks, schema
from daemonctl.store.atomic import remove
from daemonctl.store.schema import FORMAT

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daemonctl.proc.containment import Placement


class CorruptRecord(Exception):
    """A record file exists but is not a whole, valid record."""


class RecordNotRead(CorruptRecord):
    """A record file exists but cannot be read (permissions, I/O)."""


class StartSpec(NamedTuple):
    """Everything needed to start the daemon again, with every path absolute.

    The command, then one field per recorded start option, its default from the
    declaration (start_options.py; tests/unit/test_start_options.py checks that the two agree).
    """

    command: list[str]  # argv as given; command[0] is how the user named the program
    executable: str  # the absolute path that is exec'd
    pidfile: str
    stdout: str
    stderr: str
    chdir: str = DEFAULTS["chdir"]
    umask: int = DEFAULTS["umask"]
    env: dict[str, str] = DEFAULTS["env"]  # never changed in place: every change builds a new dict
    wait: float = DEFAULTS["wait"]
    env_file: str | None = DEFAULTS["env_file"]  # read again at every start
    respawn: str | None = DEFAULTS["respawn"]  # None (plain), "on-failure" or "always"
    restart_delay: float = DEFAULTS["restart_delay"]
    restart_delay_max: float = DEFAULTS["restart_delay_max"]
    min_uptime: float = DEFAULTS["min_uptime"]
    max_restarts: int = DEFAULTS["max_restarts"]
    ready_file: str | None = DEFAULTS["ready_file"]
    ready_port: str | None = DEFAULTS["ready_port"]  # HOST:PORT
    ready_log: str | None = DEFAULTS["ready_log"]  # a regular expression
    notify: bool = DEFAULTS["notify"]
    ready_timeout: float = DEFAULTS["ready_timeout"]
    forking: bool = DEFAULTS["forking"]  # the program forks into the background itself: adopt its daemon
    pid_from: str | None = DEFAULTS["pid_from"]  # the pidfile such a program writes, naming its daemon
    user: str | None = DEFAULTS["user"]  # as given to --user (name or number), resolved at each start
    group: str | None = DEFAULTS["group"]
    nice: int | None = DEFAULTS["nice"]
    instances: int | None = DEFAULTS["instances"]  # --instances: the size of its set at this start
    log_max_size: int | None = DEFAULTS["log_max_size"]  # bytes
    log_keep: int = DEFAULTS["log_keep"]
    log_timestamps: bool = DEFAULTS["log_timestamps"]
    syslog: str | None = DEFAULTS["syslog"]  # the facility
    memory_max: int | None = DEFAULTS["memory_max"]  # bytes (see proc/containment.py)
    tasks_max: int | None = DEFAULTS["tasks_max"]
    cpu_max: float | None = DEFAULTS["cpu_max"]  # percent of one CPU
    limit: dict[str, list[int | None]] = DEFAULTS["limit"]  # {resource: [soft, hard]}, None unlimited; never changed in place
    # The environment the program inherits, as the caller of the start that recorded
    # it had it; --env-file and --env go over it. None in records older than it.
    caller_env: dict[str, str] | None = None
    # An instance of a set (instances.py): its number, and the set's command and
    # per-instance options as given, with %i in them.
    instance: int | None = None
    template: dict[str, Any] | None = None

    @property
    def readiness(self) -> bool:
        return bool(self.ready_file or self.ready_port or self.ready_log or self.notify)

    @property
    def log_writer(self) -> bool:
        """Whether a log writer (the supervisor with --respawn) writes the logs, not the program itself."""
        return bool(self.log_max_size or self.log_timestamps or self.syslog)


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
    # The process group of the daemon and what it starts, when it is not the daemon's own PID:
    # a --forking daemon that forked from its session's leader stays in that leader's group.
    pgid: int | None = None
    # Its cgroup (a directory of the v2 hierarchy) and the cgroup v1 ones of its limits, where
    # cgroups are usable: what stop signals and waits for, and removes after (see containment).
    cgroup: str | None = None
    cgroup_v1: list[str] | None = None

    @property
    def placement(self) -> "Placement | None":
        if self.cgroup is None:
            return None
        from daemonctl.proc.containment import Placement

        return Placement(self.cgroup, tuple(self.cgroup_v1 or ()), self.spec.respawn is not None)

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

    def running(
        self, identity: Identity, now: datetime | None = None, sid: int | None = None, pgid: int | None = None
    ) -> "Record":
        return self._replace(
            state=RUNNING,
            pid=identity.pid,
            starttime=identity.starttime,
            boot_id=identity.boot_id,
            started_at=iso(now),
            stopped_at=None,
            sid=sid,
            pgid=pgid if pgid != identity.pid else None,
        )

    def stopped(self, now: datetime | None = None) -> "Record":
        return self._replace(state=STOPPED, stopped_at=iso(now))

    def to_json(self) -> dict[str, Any]:
        spec = self.spec._asdict()
        for option in CONVERTED:
            spec[option.name] = option.to_json(spec[option.name])
        data = {"format": FORMAT, "name": self.name, "state": self.state, "pid": self.pid}
        data.update(starttime=self.starttime, boot_id=self.boot_id)
        data.update(started_at=self.started_at, stopped_at=self.stopped_at)
        data.update(supervisor_pid=self.supervisor_pid, supervisor_starttime=self.supervisor_starttime)
        data.update(restarts=self.restarts, last_exit=self.last_exit, sid=self.sid, pgid=self.pgid)
        data.update(cgroup=self.cgroup, cgroup_v1=self.cgroup_v1)
        data.update(spec)
        return data

    @classmethod
    def from_json(cls, data: Any) -> "Record":
        """The record `data` holds; CorruptRecord naming the offending field if it is not one."""
        try:
            schema.check(data)
        except schema.Invalid as err:
            raise CorruptRecord(f"is corrupt: {err}") from None
        return cls._of_checked(data)

    @classmethod
    def _of_checked(cls, data: dict[str, Any]) -> "Record":
        spec_data = {k: data[k] for k in StartSpec._fields if k in data}
        for option in CONVERTED:
            if option.name in spec_data:
                spec_data[option.name] = option.of_json(spec_data[option.name])
        fields = {k: data[k] for k in cls._fields if k in data and k != "spec"}
        return cls(**fields, spec=StartSpec(**spec_data))


MAX_ENV_BYTES = checks.MAX_ENV_BYTES


def check_environment(env: object) -> None:
    """A recorded environment (the schema's caller_env): TypeError or ValueError if it is not one.
    Never quotes a value."""
    problem = schema.FIELDS["caller_env"](env)
    if problem:
        too_large = any(words in problem for words in ("larger than", "longer than", "more than"))
        raise (ValueError if too_large else TypeError)(f"caller_env {problem}")


def programs_own_pidfile(spec: StartSpec) -> bool:
    """daemonctl's pidfile is the one a --forking program writes: daemonctl leaves it to the program."""
    return spec.pid_from is not None and spec.pid_from == spec.pidfile


def iso(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")


def load(path: str, name: str | None = None) -> Record | None:
    """The record at `path`, None if there is none; CorruptRecord if it is not a whole, valid
    record (of the daemon `name`, when given)."""
    try:
        raw = schema.read(path)
    except schema.Invalid as err:
        raise CorruptRecord(f"is corrupt: {err}") from None
    except OSError as err:
        raise RecordNotRead(f"cannot be read: {err.strerror}") from err
    if raw is None:
        return None
    try:
        data = schema.parse(raw)
    except schema.Invalid as err:
        raise CorruptRecord(f"is corrupt: {err}") from None
    if name is not None and data["name"] != name:
        raise CorruptRecord("is corrupt: field name names another daemon")
    return Record._of_checked(data)


def encode(record: Record) -> bytes:
    """The record as written to disk; Failure if it would not load again (too large, out of range)."""
    try:
        return schema.dump(record.to_json())
    except schema.Invalid as err:
        raise Failure(f"cannot record {record.name}: {err}") from None


def reservation(record: Record) -> int:
    """Bytes that hold the record once encoded, checked as `encode` checks it; without json where
    it can (schema.size_bound), so that the json package loads after the fork, while daemonctl
    waits for the program's PID (start._Commit)."""
    try:
        bound = schema.size_bound(schema.check(record.to_json())) + 1
    except schema.Invalid as err:
        raise Failure(f"cannot record {record.name}: {err}") from None
    return bound if bound <= schema.MAX_BYTES else len(encode(record))  # near the limit: exactly


def save(path: str, record: Record) -> None:
    """Write `record` at `path` (schema.write); Failure if it would not load again."""
    try:
        schema.write(path, record.to_json())
    except schema.Invalid as err:
        raise Failure(f"cannot record {record.name}: {err}") from None


def delete(path: str) -> bool:
    return remove(path)
