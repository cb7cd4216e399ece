"""start's Click options, made from the declaration of the start options (start_options.py).

Each option's `kind` becomes the Click type that checks it (so a bad number gets Click's
own message, as it always did); an option with a `parse` gets its text, parsed after
Click by options.parse_given; `bare` makes the value optional (`--respawn` alone).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from daemonctl.cli.params import COUNT, POSITIVE_SECONDS, SECONDS, FastCommand, completer
from daemonctl.start_options import BY_NAME, CHOICE, FLAG, INTEGER, OPTIONS, PATH, TEXT, Option
from daemonctl.start_options import COUNT as COUNT_KIND
from daemonctl.start_options import POSITIVE_SECONDS as POSITIVE_SECONDS_KIND
from daemonctl.start_options import SECONDS as SECONDS_KIND

F = Callable[..., Any]
BARE = {option.name for option in OPTIONS if option.bare is not None}  # options whose value is optional


def click_type(option: Option) -> click.ParamType[Any, Any] | None:
    """The Click type that checks the option's text (None: the text as given)."""
    if option.kind in (TEXT, PATH, FLAG):
        return None
    if option.kind == SECONDS_KIND:
        return SECONDS
    if option.kind == POSITIVE_SECONDS_KIND:
        return POSITIVE_SECONDS
    if option.kind == COUNT_KIND:
        return COUNT
    if option.kind == INTEGER and option.bounds is not None:
        return click.IntRange(*option.bounds)
    if option.kind == CHOICE:
        return click.Choice(option.choices)
    raise ValueError(f"start option {option.name}: no Click type for kind {option.kind!r}")


def click_option(option: Option) -> Callable[[F], F]:
    """The Click option declared by `option`, as a decorator."""
    settings: dict[str, Any] = {"help": option.help.format(default=option.shown_default())}
    if option.metavar is not None:
        settings["metavar"] = option.metavar
    if option.kind == FLAG:
        settings["is_flag"] = True
    else:
        kind = click_type(option)
        if kind is not None:
            settings["type"] = kind
    if option.multiple:
        settings["multiple"] = True
    if option.bare is not None:
        settings.update(is_flag=False, flag_value=option.bare, default=None)
    if option.complete is not None:
        settings["shell_complete"] = completer(option.complete)
    return click.option(option.name, *option.flags, **settings)


def start_options(command: F) -> F:
    """Decorate start's function with every declared start option, in the declared order."""
    for option in reversed(OPTIONS):
        command = click_option(option)(command)
    return command


# restart's --update-env is start's.
update_env_option = click_option(BY_NAME["update_env"])


class StartCommand(FastCommand):
    """start, where an option with an optional value, given bare before PROGRAM, does not
    swallow PROGRAM as its value."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, bare_values(args, self._value_options()))

    def _value_options(self) -> set[str]:
        names: set[str] = set()
        for param in self.params:
            if isinstance(param, click.Option) and not param.is_flag and param.name not in BARE:
                names.update(param.opts)
        return names


def bare_values(args: list[str], value_options: set[str], options: tuple[Option, ...] = OPTIONS) -> list[str]:
    """`--respawn` given bare among start's options becomes `--respawn=on-failure`, for every
    option whose value is optional: the next word is its value only if it is one of its
    choices, so a bare option before PROGRAM does not swallow PROGRAM."""
    bare = {option.flag: option for option in options if option.bare is not None}
    out, i = list(args), 0
    while i < len(out):
        arg = out[i]
        if arg == "--" or not arg.startswith("-") or arg == "-":
            break  # PROGRAM starts here: its arguments are not ours
        option = bare.get(arg)
        if option is not None and (i + 1 == len(out) or out[i + 1] not in option.choices):
            out[i] = f"{arg}={option.bare}"
        i += 2 if arg in value_options else 1
    return out
