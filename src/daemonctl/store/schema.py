"""The record on disk: every field it may hold with its type and range, and the one way it is read.

A record decides which process gets signalled, what runs as whom and where its
output goes, so it is checked whole on every load, by daemonctl and by the
resident supervisor alike, before anything acts on it. What is not declared
below is refused, so every value that reaches the code has been checked and the
nesting is at most two levels deep.

To add a field: add it to the Record or StartSpec NamedTuple in record.py AND
one line to FIELDS here (tests/unit/test_schema.py fails until both
agree). Pick the narrowest check that fits; `optional(...)` when older records
lack the field, so they stay readable. A record written by a newer daemonctl
with a field this one does not know is refused as corrupt (downgrades are not
supported); `format` is for changes old readers must not misread.

Lean on purpose: the supervisor imports it (no Click, datetime or dataclasses),
and the json package is imported only when a record is parsed or written.
"""

import math
import os
from collections.abc import Callable
from typing import Any

from daemonctl.limits import MAX_COUNT, MAX_SECONDS, NICE
from daemonctl.states import RECORDED

FORMAT = 1

MAX_BYTES = 8 << 20  # argv and environment may take 2 MiB, and JSON escapes can triple that
PID_MAX = 1 << 22  # PID_MAX_LIMIT of Linux
MAX_PATH = 4096  # PATH_MAX
MAX_ARG = 131072  # MAX_ARG_STRLEN: the longest argument or environment string exec takes
MAX_ITEMS = 65536  # arguments, environment variables
MAX_NAME = 256  # names: daemon, user, group, boot id
MAX_ENV_BYTES = 2 * 1024 * 1024  # a recorded environment: as much as exec takes by default (ARG_MAX)

Check = Callable[[Any], "str | None"]  # the problem with a value, None if it is fine


class Invalid(ValueError):
    """A record that is not one: `field` is the offending field, None when the whole is wrong."""

    def __init__(self, problem: str, field: str | None = None) -> None:
        super().__init__(f"field {field} {problem}" if field else problem)
        self.field = field


def _kind(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "an object"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def optional(check: Check) -> Check:
    def optional_check(value: Any) -> str | None:
        return None if value is None else check(value)

    return optional_check


def integer(low: int, high: int) -> Check:
    def integer_check(value: Any) -> str | None:
        if type(value) is not int:
            return f"must be an integer, not {_kind(value)}"
        if not low <= value <= high:
            return f"must be an integer from {low} to {high}"
        return None

    return integer_check


def number(low: float, high: float, low_open: bool = False) -> Check:
    def number_check(value: Any) -> str | None:
        if type(value) not in (int, float):
            return f"must be a number, not {_kind(value)}"
        if not math.isfinite(value) or value > high or value < low or (low_open and value == low):
            return f"must be a number above {low}, at most {high}" if low_open else f"must be a number from {low} to {high}"
        return None

    return number_check


def flag(value: Any) -> str | None:
    return None if type(value) is bool else f"must be true or false, not {_kind(value)}"


def text(max_len: int = MAX_ARG, empty: bool = True) -> Check:
    def text_check(value: Any) -> str | None:
        if type(value) is not str:
            return f"must be a string, not {_kind(value)}"
        if len(value) > max_len:
            return f"is longer than {max_len} characters"
        if not value and not empty:
            return "is empty"
        if "\0" in value:
            return "holds a NUL character"
        try:
            # U+DC80..U+DCFF stand for the bytes of a non-UTF-8 argument, path or variable
            # (Python's surrogateescape); any other lone surrogate stands for nothing.
            value.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            return "holds a lone surrogate (not text, nor a byte)"
        return None

    return text_check


def path(value: Any) -> str | None:
    problem = text(MAX_PATH, empty=False)(value)
    if problem is None and not value.startswith("/"):
        return "must be an absolute path"  # daemonctl writes them so: a relative one follows the caller's cwd
    return problem


def one_of(*allowed: Any) -> Check:
    def one_of_check(value: Any) -> str | None:
        if any(type(value) is type(a) and value == a for a in allowed):
            return None
        return "must be one of " + ", ".join("null" if a is None else str(a) for a in allowed)

    return one_of_check


def items(item: Check, min_items: int = 0, max_items: int = MAX_ITEMS) -> Check:
    def items_check(value: Any) -> str | None:
        if type(value) is not list:
            return f"must be a list, not {_kind(value)}"
        if not min_items <= len(value) <= max_items:
            return f"must hold {min_items} to {max_items} items"
        for i, each in enumerate(value):
            problem = item(each)
            if problem:
                return f"item {i} {problem}"
        return None

    return items_check


def mapping(key: Check, value: Check, max_items: int = MAX_ITEMS) -> Check:
    def mapping_check(data: Any) -> str | None:
        if type(data) is not dict:
            return f"must be an object, not {_kind(data)}"
        if len(data) > max_items:
            return f"holds more than {max_items} entries"
        for k, v in data.items():
            problem = key(k)
            if problem:
                return f"has a key that {problem}"
            problem = value(v)
            if problem:
                return f"entry {_quote(k)} {problem}"
        return None

    return mapping_check


def env_key(value: Any) -> str | None:
    problem = text(MAX_ARG, empty=False)(value)
    return problem or ("holds '='" if "=" in value else None)


def environment(value: Any) -> str | None:
    """The caller's environment as os.environ holds it: any keys but empty ones, within MAX_ENV_BYTES."""
    problem = mapping(text(empty=False), text())(value)
    if problem is None and sum(len(k) + len(v) + 2 for k, v in value.items()) > MAX_ENV_BYTES:
        return f"is larger than {MAX_ENV_BYTES} bytes"
    return problem


def timestamp(value: Any) -> str | None:
    """ISO 8601 as record.iso() writes it; checked by its characters (datetime stays out of the supervisor)."""
    problem = text(40, empty=False)(value)
    if problem is None and (not value[:4].isdigit() or value.strip("0123456789-:T+.Z ")):
        return "must be an ISO 8601 time"
    return problem


def umask(value: Any) -> str | None:
    problem = text(4, empty=False)(value)
    if problem is None and (value.strip("01234567") or int(value, 8) > 0o777):
        return "must be an octal mode from 000 to 777"
    return problem


def split_port(address: str) -> tuple[str, int]:
    """`[HOST:]PORT` (HOST may be `[::1]`) as (host, port); ValueError when malformed."""
    host, sep, port_text = address.rpartition(":")
    host = host.strip("[]") if sep else "127.0.0.1"
    if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536 or (sep and not host):
        raise ValueError(f"--ready-port takes [HOST:]PORT with PORT 1-65535, not {address!r}")
    return host, int(port_text)


def port_address(value: Any) -> str | None:
    problem = text(MAX_NAME + 8, empty=False)(value)
    if problem is None:
        try:
            split_port(value)
        except ValueError:
            return "must be [HOST:]PORT with PORT from 1 to 65535"
    return problem


def regex(value: Any) -> str | None:
    problem = text()(value)
    if problem is None:
        import re

        try:
            re.compile(value)
        except (re.error, RecursionError, OverflowError, MemoryError):
            return "is not a valid regular expression"
    return problem


def last_exit(value: Any) -> str | None:
    """{"code": 0-255 | "signal": 1-64, "at": time}, as the supervisor writes it."""
    if type(value) is not dict:
        return f"must be an object, not {_kind(value)}"
    keys = set(value)
    if keys not in ({"code", "at"}, {"signal", "at"}):
        return "must hold \"at\" and one of \"code\" or \"signal\""
    problem = integer(0, 255)(value["code"]) if "code" in value else integer(1, 64)(value["signal"])
    return problem or timestamp(value["at"])


PID = optional(integer(2, PID_MAX))  # 0, -1 and 1 would aim kill() at a group, everyone or init
STARTTIME = optional(integer(0, 2**63 - 1))  # clock ticks since boot (/proc/PID/stat field 22)
SECONDS = number(0, MAX_SECONDS)

# Every field, in the order the checks run (and records are written); REQUIRED ones must be present.
FIELDS: dict[str, Check] = {
    # The process: what daemonctl and the supervisor last knew of it.
    "format": one_of(FORMAT),
    "name": text(MAX_NAME, empty=False),
    "state": one_of(*RECORDED),
    "pid": PID,
    "starttime": STARTTIME,
    "boot_id": optional(text(MAX_NAME, empty=False)),
    "started_at": optional(timestamp),
    "stopped_at": optional(timestamp),
    "supervisor_pid": PID,
    "supervisor_starttime": STARTTIME,
    "restarts": integer(0, 2**63 - 1),
    "last_exit": optional(last_exit),
    "sid": PID,  # the session the program was started in: its intermediate's PID
    # How it was started (record.StartSpec): the start options, with every path absolute.
    "command": items(text(), min_items=1),
    "executable": path,
    "pidfile": path,
    "stdout": path,
    "stderr": path,
    "chdir": path,
    "umask": umask,
    "env": mapping(env_key, text()),
    "wait": SECONDS,
    "env_file": optional(path),
    "respawn": one_of(None, "on-failure", "always"),
    "restart_delay": SECONDS,
    "restart_delay_max": SECONDS,
    "min_uptime": SECONDS,
    "max_restarts": integer(0, MAX_COUNT),
    "ready_file": optional(path),
    "ready_port": optional(port_address),
    "ready_log": optional(regex),
    "notify": flag,
    "ready_timeout": number(0, MAX_SECONDS, low_open=True),
    "user": optional(text(MAX_NAME, empty=False)),  # as given to --user: name or number, maybe :GROUP
    "group": optional(text(MAX_NAME, empty=False)),
    "nice": optional(integer(*NICE)),
    "caller_env": optional(environment),  # the caller's environment at the start that recorded it
}
REQUIRED = ("name", "command", "executable", "pidfile", "stdout", "stderr")


def check(data: Any) -> dict[str, Any]:
    """`data` if it is a whole, valid record; else Invalid naming the first offending field."""
    if type(data) is not dict:
        raise Invalid(f"not a JSON object but {_kind(data)}")
    for field in REQUIRED:
        if field not in data:
            raise Invalid("is missing", field)
    for field, field_check in FIELDS.items():
        if field in data:
            problem = field_check(data[field])
            if problem:
                raise Invalid(problem, field)
    for field in data:
        if field not in FIELDS:
            raise Invalid("is unknown (written by a newer daemonctl?)", _quote(field))
    return data


def parse(raw: bytes) -> dict[str, Any]:
    """The record held in `raw`, checked; Invalid if it is not one."""
    import json

    if len(raw) > MAX_BYTES:
        raise Invalid(f"larger than {MAX_BYTES >> 20} MiB")
    try:
        text_ = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise Invalid(f"not UTF-8 text (byte {err.start})") from None
    try:
        data = json.loads(text_, parse_constant=_no_constant)
    except json.JSONDecodeError as err:
        raise Invalid(f"not valid JSON: {err.msg.lower()} (character {err.pos} of {len(text_)}; cut short?)") from None
    except ValueError as err:  # NaN, Infinity; an integer of more than 4300 digits
        raise Invalid(f"not valid JSON: {str(err)[:80]}") from None
    except RecursionError:
        raise Invalid("nested too deeply") from None
    return check(data)


def dump(data: dict[str, Any]) -> bytes:
    """`data` as one line of JSON, after checking it is a record the next load accepts."""
    import json

    out = (json.dumps(check(data), allow_nan=False) + "\n").encode("ascii")
    if len(out) > MAX_BYTES:
        raise Invalid(f"larger than {MAX_BYTES >> 20} MiB (command and environment too large)")
    return out


def read(path: str) -> bytes | None:
    """The bytes of the record file at `path` (None when there is none), read as safeopen reads:
    no symlink followed, no FIFO or device, a regular file of at most MAX_BYTES. Invalid if it
    is not that; OSError if it cannot be read."""
    import errno

    from daemonctl.store.safeopen import Refused, read_file

    try:
        return read_file(path, "record", MAX_BYTES)
    except FileNotFoundError:
        return None
    except Refused as err:
        if err.errno not in (None, errno.ELOOP, errno.EISDIR, errno.EFBIG):
            raise OSError(err.errno, os.strerror(err.errno)) from None
        raise Invalid(err.message.replace(f"record {path} is ", "", 1)) from None


def load(path: str) -> dict[str, Any] | None:
    """The checked record at `path`, None when there is none; Invalid or OSError."""
    raw = read(path)
    return None if raw is None else parse(raw)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _quote(key: Any) -> str:
    """A key of the file, safe to print whatever it holds."""
    shown = ascii(str(key)[:32])
    return shown if len(str(key)) <= 32 else shown[:-1] + "...'"
