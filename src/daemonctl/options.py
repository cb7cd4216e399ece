"""start's options as given on the command line: which were given, and their values (start_options.py declares them)."""

from __future__ import annotations

from typing import Any

from daemonctl.start_options import BY_NAME


class StartOptions:
    """start's options as given (start_options.OPTIONS), and the program.

    `given` holds the options given on the command line, as values; an option not given
    reads as its `unset` value (None, False for a flag), meaning "the default, or the
    record's value". A plain class, built once per start.
    """

    def __init__(self, program: tuple[str, ...] | list[str] = (), **given: Any) -> None:
        for key in given:
            if key not in BY_NAME:
                raise TypeError(f"unknown start option {key!r}")
        self.program = tuple(program)
        self.given = {key: value for key, value in given.items() if _given(value)}

    def __getattr__(self, key: str) -> Any:
        given = self.__dict__.get("given", {})
        if key in given:
            return given[key]
        if key in BY_NAME:
            return BY_NAME[key].unset
        raise AttributeError(key)


def _given(value: Any) -> bool:
    """Whether Click's value for an option means it was given (0 and "" are given values)."""
    if value is None or value is False:
        return False
    return not (isinstance(value, (tuple, list, dict)) and not value)


def parse_given(texts: dict[str, Any]) -> dict[str, Any]:
    """The options' values from what Click made of their texts: each declared `parse` applied
    to the options given (UsageError naming the first bad one)."""
    values = dict(texts)
    for key, value in texts.items():
        parse = BY_NAME[key].parse
        if parse is not None and _given(value):
            values[key] = parse(value)
    return values
