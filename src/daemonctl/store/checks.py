"""The checks a record's fields are made of: each takes a value and returns the problem with it, None if it is fine.

Plain Python on purpose: the record schema (store/schema.py), the declaration of the
start options (start_options.py) and the resident supervisor all use them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_PATH = 4096  # PATH_MAX
MAX_ARG = 131072  # MAX_ARG_STRLEN: the longest argument or environment string exec takes
MAX_ITEMS = 65536  # arguments, environment variables
MAX_NAME = 256  # names: daemon, user, group, boot id
MAX_ENV_BYTES = 2 * 1024 * 1024  # a recorded environment: as much as exec takes by default (ARG_MAX)

if TYPE_CHECKING:
    Check = Callable[[Any], str | None]  # the problem with a value, None if it is fine


def kind_of(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "an object"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def optional(check: Check) -> Check:
    def optional_check(value: Any) -> str | None:
        return None if value is None else check(value)

    return optional_check


def integer(low: int, high: int) -> Check:
    def integer_check(value: Any) -> str | None:
        if type(value) is not int:
            return f"must be an integer, not {kind_of(value)}"
        if not low <= value <= high:
            return f"must be an integer from {low} to {high}"
        return None

    return integer_check


def number(low: float, high: float, low_open: bool = False) -> Check:
    def number_check(value: Any) -> str | None:
        if type(value) not in (int, float):
            return f"must be a number, not {kind_of(value)}"
        if not math.isfinite(value) or value > high or value < low or (low_open and value == low):
            return f"must be a number above {low}, at most {high}" if low_open else f"must be a number from {low} to {high}"
        return None

    return number_check


def flag(value: Any) -> str | None:
    return None if type(value) is bool else f"must be true or false, not {kind_of(value)}"


def text(max_len: int = MAX_ARG, empty: bool = True) -> Check:
    def text_check(value: Any) -> str | None:
        if type(value) is not str:
            return f"must be a string, not {kind_of(value)}"
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
            return f"must be a list, not {kind_of(value)}"
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
            return f"must be an object, not {kind_of(data)}"
        if len(data) > max_items:
            return f"holds more than {max_items} entries"
        for k, v in data.items():
            problem = key(k)
            if problem:
                return f"has a key that {problem}"
            problem = value(v)
            if problem:
                return f"entry {quote_key(k)} {problem}"
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
    """{"code": 0-255 | "signal": 1-64, "at": time}, as the supervisor writes it; "oom": true when the
    OOM killer ended the run."""
    if type(value) is not dict:
        return f"must be an object, not {kind_of(value)}"
    keys = set(value) - {"oom"}
    if keys not in ({"code", "at"}, {"signal", "at"}):
        return "must hold \"at\" and one of \"code\" or \"signal\""
    if "oom" in value and value["oom"] is not True:
        return "may only say \"oom\": true"
    problem = integer(0, 255)(value["code"]) if "code" in value else integer(1, 64)(value["signal"])
    return problem or timestamp(value["at"])




def quote_key(key: Any) -> str:
    """A key of the file, safe to print whatever it holds."""
    shown = ascii(str(key)[:32])
    return shown if len(str(key)) <= 32 else shown[:-1] + "...'"
