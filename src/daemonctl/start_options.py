"""Every option of `start`, declared once: the rest of daemonctl is derived from OPTIONS below.

One `Option` says everything about a start option: its flags, how its text becomes a
value, its default, its help, how it is checked in the record and how it goes over a
recorded value, and how it is exported. From it:

- cli/start_params.py builds the Click options of `start` (in OPTIONS' order, which is
  the order of `start --help`);
- store/schema.py checks the record's field with `record`, and store/record.py writes and
  reads it with `to_record`/`from_record`; record.StartSpec takes its defaults from
  DEFAULTS (tests/unit/test_start_options.py proves StartSpec and OPTIONS agree field for
  field);
- spec_merge.py merges what was given over the record with `merge`, and refuses a `needs`
  option given without the option it needs;
- export/ writes the options with an `export` entry for its target, and names every other
  recorded option it does not handle by hand as not exported.

English and Click: the help texts live here, as data, because they are part of what an
option is and a second table of them would drift from this one. Nothing outside cli/
renders them, and this module imports neither Click nor anything that writes: the `kind`
of an option is a word that cli/start_params.py turns into a Click type, so Click's own
messages for a bad number stay Click's. `{default}` in a help text is filled in by the CLI
from `default`, so a default is written once.

This module is imported by every command that reads a record and by the resident
supervisor (through store/schema.py): it stays plain Python, cheap to import.

How to add a start option:
1. Add an `Option(...)` to OPTIONS, where it should appear in `start --help`. Pick its
   `kind` (or give `parse`, a function from the text (a tuple of texts when `multiple`) to
   the value, raising UsageError with one line); `bare` makes the value optional
   (`--syslog` alone means `bare`); `record` is the record's check of the value
   (store/checks.py), None if it is not recorded; `export` maps it for a target
   (`directive("MemoryMax")`), else each target says it is not exported.
2. If it is recorded, add the field to record.StartSpec with `= DEFAULTS["name"]` (the unit
   test fails until you do).
3. Use it where it acts (spec.name), and document it in the man page and the README.
4. If it is recorded, the Ansible module takes it too: run integrations/ansible/generate.py
   (tests/unit/test_ansible_options.py fails until you do; a `parse` it does not know yet
   needs teaching there, in generate.kind and the module's as_recorded).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from daemonctl import resource_limits
from daemonctl.errors import UsageError
from daemonctl.limits import MAX_COUNT, MAX_INSTANCES, MAX_LOG_KEEP, MAX_LOG_SIZE, MAX_SECONDS, NICE, SYSLOG_FACILITIES
from daemonctl.store import checks

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# What an option's text is, for cli/start_params.py: each becomes a Click type there.
TEXT = "text"  # a string, kept as given (or as `parse` makes it)
PATH = "path"  # a path, made absolute against the caller's working directory
SECONDS = "seconds"  # 0..MAX_SECONDS, a finite number
POSITIVE_SECONDS = "positive-seconds"  # as SECONDS, but above 0
COUNT = "count"  # a whole number, 0..MAX_COUNT
INTEGER = "integer"  # a whole number within `bounds`
CHOICE = "choice"  # one of `choices`
FLAG = "flag"  # no value: True when given


class Derived:
    """The default of an option computed at start from others (named in the help text)."""

    def __repr__(self) -> str:
        return "DERIVED"


DERIVED: Any = Derived()

if TYPE_CHECKING:
    Merge = Callable[[Any, Any, str], Any]  # (recorded value, given value, caller's cwd) -> new value
    Export = Callable[[Any], list[str]]  # a value -> the lines that say it to a target


def replace(_recorded: Any, given: Any, _cwd: str) -> Any:
    return given


def absolute(what: str = "") -> Merge:
    """Merge a path: the given one, absolute against the caller's working directory."""
    def merge_path(_recorded: Any, given: Any, cwd: str) -> Any:
        if given == "":
            raise UsageError(f"{what}an empty path was given")
        return os.path.normpath(os.path.join(cwd, given))

    return merge_path


def update(recorded: Any, given: Any, _cwd: str) -> Any:
    """Merge a mapping: the given entries over the recorded ones."""
    return {**recorded, **given}


def directive(key: str, show: Callable[[Any], str] = str) -> Export:
    """Export a value as one `KEY=value` line (none when the value is None)."""

    def lines(value: Any) -> list[str]:
        return [] if value is None else [f"{key}={show(value)}"]

    return lines


class Option:
    """One start option (see the module's docstring for what reads each part)."""

    __slots__ = ("name", "flags", "help", "metavar", "kind", "default", "choices", "bounds", "bare", "multiple",
                 "parse", "record", "to_record", "from_record", "merge", "needs", "export", "complete",
                 "per_instance")

    def __init__(
        self,
        name: str,
        flags: tuple[str, ...],
        help: str,
        *,
        metavar: str | None = None,
        kind: str = TEXT,
        default: Any = None,
        choices: tuple[str, ...] = (),
        bounds: tuple[int, int] | None = None,
        bare: Any = None,
        multiple: bool = False,
        parse: Callable[[Any], Any] | None = None,
        record: checks.Check | None = None,
        to_record: Callable[[Any], Any] | None = None,
        from_record: Callable[[Any], Any] | None = None,
        merge: Merge = replace,
        needs: str | None = None,
        export: Mapping[str, Export] | None = None,
        complete: str | None = None,
        per_instance: bool = False,
    ) -> None:
        self.name = name  # the attribute of StartOptions and StartSpec, and the record's key
        self.flags = flags
        self.help = help
        self.metavar = metavar
        self.kind = kind
        self.default = default  # when neither given nor recorded (DERIVED: computed at start)
        self.choices = choices
        self.bounds = bounds
        self.bare = bare  # not None: the value is optional, and this is the value of the bare flag
        self.multiple = multiple  # repeatable: the texts come as a tuple (`parse` makes the value)
        self.parse = parse  # text (tuple of texts if multiple) -> value, after Click; UsageError if bad
        self.record = record  # the record's check of the value; None: not recorded
        self.to_record = to_record  # value -> JSON, when the value is not JSON itself
        self.from_record = from_record  # and back
        self.merge = merge  # how a value given now goes over the recorded (or default) one
        self.needs = needs  # the option this one makes sense only with
        self.export = export or {}  # target ("systemd", "supervisor") -> its lines for the value
        self.complete = complete  # the name of a word list in cli/completion.py
        self.per_instance = per_instance  # with --instances, %i in its text becomes each instance's number

    @property
    def flag(self) -> str:
        """The long flag, as messages name the option."""
        return self.flags[-1]

    @property
    def unset(self) -> Any:
        """The value of an option not given: False for a flag, None for the others."""
        return False if self.kind == FLAG else None

    def shown_default(self) -> str:
        """The default as the help text shows it."""
        if self.to_record is not None:
            return str(self.to_record(self.default))
        if isinstance(self.default, float):
            return f"{self.default:g}"
        return str(self.default)

    def to_json(self, value: Any) -> Any:
        """The value as the record holds it."""
        return value if self.to_record is None else self.to_record(value)

    def of_json(self, value: Any) -> Any:
        """The value the record holds, as the spec holds it."""
        return value if self.from_record is None else self.from_record(value)

    def __repr__(self) -> str:
        return f"Option({self.name!r})"


def parse_umask(text: str) -> int:
    try:
        value = int(text, 8)
    except ValueError:
        raise UsageError(f"--umask takes an octal mode such as 022, not {text!r}") from None
    if not 0 <= value <= 0o777:
        raise UsageError(f"--umask {text!r} is out of range (000-777)")
    return value


def parse_env(items: tuple[str, ...] | list[str]) -> dict[str, str]:
    env = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or "\0" in item:
            raise UsageError(f"--env takes KEY=VALUE, not {item!r}")
        env[key] = value
    return env


SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(flag: str, low: int = 0, high: int | None = None) -> Callable[[str], int]:
    """A parser of SIZE for `flag`: bytes, or a whole number with K, M, G or T (powers of 1024),
    from `low` to `high` (None: no bound)."""

    def parse(text: str) -> int:
        number, unit = text[:-1], text[-1:].upper()
        if unit.isdigit():
            number, unit = text, ""
        if not (number.isascii() and number.isdigit()) or unit not in SIZE_UNITS:
            raise UsageError(f"{flag} takes a size in bytes, or with K, M, G or T, not {text!r}")
        size = int(number) * SIZE_UNITS[unit]
        if size < low or (high is not None and size > high):
            raise UsageError(f"{flag} {text!r} is out of range ({low} to {high} bytes)")
        return size

    return parse


SECONDS_CHECK = checks.number(0, MAX_SECONDS)
RESPAWN_MODES = ("on-failure", "always")

OPTIONS: tuple[Option, ...] = (
    Option("name", ("-n", "--name"), "Instance name (default: basename of PROGRAM).",
           default=DERIVED, complete="daemon_names"),
    Option("instances", ("--instances",),
           "Start N instances NAME@1..NAME@N; %i in the arguments and paths becomes each one's number.",
           metavar="N", kind=INTEGER, bounds=(1, MAX_INSTANCES), record=checks.optional(checks.integer(1, MAX_INSTANCES))),
    Option("pidfile", ("-p", "--pidfile"), "Pidfile (default STATE_DIR/NAME.pid).", metavar="PATH", kind=PATH,
           default=DERIVED, record=checks.path, merge=absolute(), per_instance=True),
    Option("stdout", ("-o", "--stdout"), "Append stdout here (default STATE_DIR/NAME.log).", metavar="PATH",
           kind=PATH, default=DERIVED, record=checks.path, merge=absolute(), per_instance=True),
    Option("stderr", ("-e", "--stderr"), "Append stderr here (default: same as stdout).", metavar="PATH",
           kind=PATH, default=DERIVED, record=checks.path, merge=absolute(), per_instance=True),
    Option("chdir", ("-d", "--chdir"), "Working directory (default {default}).", metavar="DIR", kind=PATH,
           default="/", record=checks.path, merge=absolute(), per_instance=True),
    Option("umask", ("--umask",), "umask of the program (default {default}).", metavar="OCTAL", default=0o022,
           parse=parse_umask, record=checks.umask, to_record=lambda mode: format(mode, "03o"),
           from_record=lambda text: int(text, 8)),
    Option("env", ("--env",), "Set a variable (repeatable).", metavar="KEY=VALUE", multiple=True, default={},
           parse=parse_env, record=checks.mapping(checks.env_key, checks.text()), merge=update, per_instance=True),
    Option("env_file", ("--env-file",), "Read KEY=VALUE lines (systemd EnvironmentFile syntax) at every start.",
           metavar="FILE", kind=PATH, record=checks.optional(checks.path), merge=absolute("--env-file: ")),
    Option("update_env", ("--update-env",),
           "Give the program your environment, not the one recorded at its first start.", kind=FLAG, default=False),
    Option("wait", ("--wait",), "Fail if the program ends within SECONDS of starting (default {default}).",
           metavar="SECONDS", kind=SECONDS, default=0.0, record=SECONDS_CHECK),
    Option("respawn", ("--respawn",), "Supervise: restart the program when it ends (bare: on-failure).",
           metavar="[=on-failure|always]", kind=CHOICE, choices=RESPAWN_MODES, bare="on-failure",
           record=checks.one_of(None, *RESPAWN_MODES)),
    Option("restart_delay", ("--restart-delay",),
           "Wait before a restart; doubles after each quick failure (default {default}).", metavar="SECONDS",
           kind=SECONDS, default=1.0, record=SECONDS_CHECK, needs="respawn"),
    Option("restart_delay_max", ("--restart-delay-max",), "Cap of the restart delay (default {default}).",
           metavar="SECONDS", kind=SECONDS, default=60.0, record=SECONDS_CHECK, needs="respawn"),
    Option("min_uptime", ("--min-uptime",),
           "A shorter run is a quick failure; a longer one resets delay and count (default {default}).",
           metavar="SECONDS", kind=SECONDS, default=10.0, record=SECONDS_CHECK, needs="respawn"),
    Option("max_restarts", ("--max-restarts",),
           "Give up when the run after the Nth quick restart in a row also fails (default {default}; 0: never).",
           metavar="N", kind=COUNT, default=10, record=checks.integer(0, MAX_COUNT), needs="respawn"),
    Option("ready_file", ("--ready-file",), "Ready once PATH exists.", metavar="PATH", kind=PATH,
           record=checks.optional(checks.path), merge=absolute(), per_instance=True),
    Option("ready_port", ("--ready-port",), "Ready once a TCP connection to HOST (127.0.0.1) PORT succeeds.",
           metavar="[HOST:]PORT", record=checks.optional(checks.port_address), per_instance=True),
    Option("ready_log", ("--ready-log",), "Ready once a new line of the stdout or stderr log matches REGEX.",
           metavar="REGEX", record=checks.optional(checks.regex), per_instance=True),
    Option("notify", ("--notify",), "Ready once the program sends READY=1 to $NOTIFY_SOCKET (sd_notify).",
           kind=FLAG, default=False, record=checks.flag),
    Option("ready_timeout", ("--ready-timeout",), "How long to wait for readiness (default {default}).",
           metavar="SECONDS", kind=POSITIVE_SECONDS, default=30.0,
           record=checks.number(0, MAX_SECONDS, low_open=True)),
    Option("forking", ("--forking",),
           "The program forks into the background itself: wait for it to exit, adopt the daemon it leaves.",
           kind=FLAG, default=False, record=checks.flag),
    Option("pid_from", ("--pid-from",), "With --forking: the pidfile the program writes, naming its daemon.",
           metavar="PATH", kind=PATH, record=checks.optional(checks.path), merge=absolute(), needs="forking", per_instance=True),
    Option("user", ("-u", "--user"), "Run as this user (root only; name or number).", metavar="USER[:GROUP]",
           record=checks.optional(checks.text(checks.MAX_NAME, empty=False))),
    Option("group", ("-g", "--group"), "Run with this group (root only; name or number).", metavar="GROUP",
           record=checks.optional(checks.text(checks.MAX_NAME, empty=False))),
    Option("nice", ("--nice",), "Niceness of the program (-20..19).", metavar="N", kind=INTEGER, bounds=NICE,
           record=checks.optional(checks.integer(*NICE)), export={"systemd": directive("Nice")}),
    # Any of the four below: a log writer (the supervisor with --respawn) writes the logs (supervise/logsink.py).
    Option("log_max_size", ("--log-max-size",),
           "Rotate a log once it reaches SIZE (bytes, or with K, M, G, T; default: never).", metavar="SIZE",
           parse=parse_size("--log-max-size", 1, MAX_LOG_SIZE), record=checks.optional(checks.integer(1, MAX_LOG_SIZE))),
    Option("log_keep", ("--log-keep",), "Rotated logs kept: LOG.1 (newest) to LOG.N (default {default}).",
           metavar="N", kind=INTEGER, bounds=(0, MAX_LOG_KEEP), default=5,
           record=checks.integer(0, MAX_LOG_KEEP), needs="log_max_size"),
    Option("log_timestamps", ("--log-timestamps",),
           "Prefix every line with the time it was written (ISO 8601, the daemon's local time).",
           kind=FLAG, default=False, record=checks.flag),
    Option("syslog", ("--syslog",), "Send the lines to syslog too, tagged NAME[PID] (bare: daemon).",
           metavar="[=FACILITY]", kind=CHOICE, choices=tuple(SYSLOG_FACILITIES), bare="daemon",
           record=checks.one_of(None, *SYSLOG_FACILITIES)),
    Option("memory_max", ("--memory-max",), "Memory limit of the daemon, all its processes: bytes, or with K, M, G, T.",
           metavar="SIZE", parse=parse_size("--memory-max", 1, resource_limits.MAX_BYTES),
           record=checks.optional(checks.integer(1, resource_limits.MAX_BYTES)), export={"systemd": directive("MemoryMax")}),
    Option("tasks_max", ("--tasks-max",), "Most processes and threads of the daemon at once.", metavar="N",
           parse=resource_limits.parse_tasks, record=checks.optional(checks.integer(1, resource_limits.MAX_TASKS)),
           export={"systemd": directive("TasksMax")}),
    Option("cpu_max", ("--cpu-max",), "CPU time of the daemon, in percent of one CPU (50, 250).", metavar="PERCENT",
           parse=resource_limits.parse_percent, record=checks.optional(checks.number(1, resource_limits.MAX_PERCENT)),
           export={"systemd": directive("CPUQuota", resource_limits.cpu_quota)}),
    Option("limit", ("--limit",), "A setrlimit of the program (repeatable), e.g. nofile=4096 or core=unlimited.",
           metavar="RESOURCE=SOFT[:HARD]", multiple=True, default={}, parse=resource_limits.parse_limits,
           record=resource_limits.recorded_check, merge=update, export={"systemd": resource_limits.systemd_lines},
           complete="rlimit_names"),
)

BY_NAME: dict[str, Option] = {option.name: option for option in OPTIONS}
RECORDED: tuple[Option, ...] = tuple(option for option in OPTIONS if option.record is not None)
DEFAULTS: dict[str, Any] = {option.name: option.default for option in OPTIONS}
# The options whose text takes %i with --instances (and PROGRAM's arguments).
PER_INSTANCE: tuple[Option, ...] = tuple(option for option in OPTIONS if option.per_instance)
# The recorded options whose value is not JSON itself (to_record and from_record both given).
CONVERTED: tuple[Option, ...] = tuple(option for option in RECORDED if option.to_record and option.from_record)


def recorded(data: Mapping[str, Any], name: str) -> Any:
    """Option `name`'s value in a checked record (a dict, as the supervisor keeps it): converted
    back from JSON, or its default when the record is older than the option."""
    option = BY_NAME[name]
    return option.of_json(data[name]) if name in data else option.default
