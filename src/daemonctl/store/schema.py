"""The record on disk: every field it may hold with its type and range, and the one way it is read.

A record decides which process gets signalled, what runs as whom and where its
output goes, so it is checked whole on every load, by daemonctl and by the
resident supervisor alike, before anything acts on it. What is not declared
below is refused, so every value that reaches the code has been checked and the
nesting is at most three levels deep (a template's --env).

The start options' fields come from their declaration (start_options.py). To add
another field: add it to the Record NamedTuple in record.py AND one line to FIELDS
here (tests/unit/test_schema.py fails until both agree), with a check from
store/checks.py. Pick the narrowest check that fits; `optional(...)` when older records
lack the field, so they stay readable. A record written by a newer daemonctl
with a field this one does not know is refused as corrupt (downgrades are not
supported); `format` is for changes old readers must not misread.

Records are read (load) and written (write) here and nowhere else: record.py turns them
into NamedTuples for daemonctl, the supervisor keeps them as checked dicts.

Lean on purpose: the supervisor imports it (no Click, datetime or dataclasses),
and the json package is imported only when a record is parsed or written.
"""

from __future__ import annotations

import os

from daemonctl.limits import MAX_INSTANCES
from daemonctl.start_options import DERIVED, PER_INSTANCE, RECORDED
from daemonctl.states import RECORDED as RECORDED_STATES
from daemonctl.store.checks import (
    MAX_NAME,
    MAX_PATH,
    env_key,
    environment,
    integer,
    items,
    kind_of,
    last_exit,
    mapping,
    one_of,
    optional,
    path,
    quote_key,
    text,
    timestamp,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from daemonctl.store.checks import Check

FORMAT = 1

MAX_BYTES = 8 << 20  # argv and environment may take 2 MiB, and JSON escapes can triple that
PID_MAX = 1 << 22  # PID_MAX_LIMIT of Linux
MODE = 0o600  # a record holds the caller's environment: for its owner's eyes only


class Invalid(ValueError):
    """A record that is not one: `field` is the offending field, None when the whole is wrong."""

    def __init__(self, problem: str, field: str | None = None) -> None:
        super().__init__(f"field {field} {problem}" if field else problem)
        self.field = field


PID = optional(integer(2, PID_MAX))  # 0, -1 and 1 would aim kill() at a group, everyone or init
STARTTIME = optional(integer(0, 2**63 - 1))  # clock ticks since boot (/proc/PID/stat field 22)

# Every field, in the order the checks run; REQUIRED ones must be present.
FIELDS: dict[str, Check] = {
    # The process: what daemonctl and the supervisor last knew of it.
    "format": one_of(FORMAT),
    "name": text(MAX_NAME, empty=False),
    "state": one_of(*RECORDED_STATES),
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
    "pgid": PID,  # the daemon's process group, when it is not its own PID (--forking)
    "cgroup": optional(path),  # its cgroup v2 directory (see proc/containment.py)
    "cgroup_v1": optional(items(path, max_items=3)),  # the cgroup v1 directories of its limits
    # How it was started (record.StartSpec): the command, then the start options as
    # start_options.py declares them, with every path absolute.
    "command": items(text(), min_items=1),
    "executable": path,
    **{option.name: option.record for option in RECORDED if option.record is not None},
    "caller_env": optional(environment),  # the caller's environment at the start that recorded it
    "instance": optional(integer(1, MAX_INSTANCES)),  # NAME@i of a set: i
}
# A set's template (instances.py): the command and the per-instance options with %i still in them.
TEMPLATE_FIELDS: dict[str, Check] = {
    "command": items(text(), min_items=1),
    **{option.name: optional(mapping(env_key, text()) if option.multiple else text(MAX_PATH))
       for option in PER_INSTANCE},
}


def _template(value: Any) -> str | None:
    if type(value) is not dict:
        return f"must be an object, not {kind_of(value)}"
    if "command" not in value:
        return "lacks the command"
    for key, item in value.items():
        item_check = TEMPLATE_FIELDS.get(key)
        if item_check is None:
            return f"holds an unknown key {quote_key(key)}"
        problem = item_check(item)
        if problem:
            return f"{key} {problem}"
    return None


FIELDS["template"] = optional(_template)
# The name, the command and the options whose default is computed at start (paths).
REQUIRED = ("name", "command", "executable", *(option.name for option in RECORDED if option.default is DERIVED))


def check(data: Any) -> dict[str, Any]:
    """`data` if it is a whole, valid record; else Invalid naming the first offending field."""
    if type(data) is not dict:
        raise Invalid(f"not a JSON object but {kind_of(data)}")
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
            raise Invalid("is unknown (written by a newer daemonctl?)", quote_key(field))
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


def size_bound(data: Any) -> int:
    """At least len(dump(data)), counted without json: how much to reserve for a record before the fork.

    json.dumps (ensure_ascii, ", " and ": ") writes an ASCII character in at most 6 bytes
    (\u001f), any other in at most 12 (a surrogate pair), a float in at most 24.
    """
    if isinstance(data, str):
        return 2 + len(data) * (6 if data.isascii() else 12)
    if isinstance(data, dict):
        return 2 + sum(size_bound(key) + 4 + size_bound(value) for key, value in data.items())
    if isinstance(data, list | tuple):
        return 2 + sum(size_bound(item) + 2 for item in data)
    if isinstance(data, bool) or data is None:
        return 5
    if isinstance(data, int):
        return len(str(data))
    return 32  # a float


def write(path: str, data: dict[str, Any]) -> None:
    """The one writer of records, daemonctl's and the supervisor's: `data` replaces the record
    at `path` atomically, mode MODE, once dump has checked it. Invalid if it is not a record
    the next load accepts; OSError if it cannot be written."""
    from daemonctl.store.atomic import atomic_write

    atomic_write(path, dump(data), MODE)


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
