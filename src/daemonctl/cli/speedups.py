"""The speed tricks that touch Click: tricks 1 to 4 and 10 of daemonctl/speedups.py.

That module lists every trick daemonctl plays, what each buys (measured) and when
to delete it; these live here because only cli/ may know Click.

This module imports no Click at its top: console_script must turn collection off before
Click is imported (daemonctl/__main__.py calls it first thing). The functions that build
Click objects import it where they run, after it is loaded.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterator, MutableMapping
from importlib import import_module

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    import click


GEN0 = 20_000  # trick 1: allocations between young collections while a command runs


def console_script() -> None:
    """Trick 1 and 2: run the CLI with collection off while it loads, and rarely while it runs;
    leave with os._exit."""
    # Importing Click and the CLI makes some 19,000 container objects that live as
    # long as the process: collecting while they are made only finds them all alive.
    # Collect afterwards, among what the command makes.
    gc.disable()
    from daemonctl.cli.commands import main as run

    gc.freeze()
    # What a command imports and makes (a start: 5,000 objects, most alive till exit) would
    # take 8 young collections at the default threshold of 700; a long-running command
    # (serve, logs -f) still collects, every GEN0 allocations.
    gc.set_threshold(GEN0, *gc.get_threshold()[1:])
    gc.enable()
    code = run()
    # Leave without the interpreter's teardown of every module and object: nothing here
    # needs it. Files are flushed below; locks, pidfds and sockets go with the process.
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        code = code or 1
    os._exit(code)


def spell_long(args: list[str], params: list[click.Parameter], ctx: click.Context, stop_at_positional: bool) -> list[str]:
    """Trick 3: `args` with every exact short option spelled as its long form.

    Click tries every short option as a long one first and, on the way, builds a
    "did you mean" list with difflib, on every status check a cron job makes.
    Anything but an exact short option (`-nweb`, typos) is left for Click as it was.
    """
    import click

    longs: dict[str, str] = {}
    takes_value: set[str] = set()
    for param in params:
        if not isinstance(param, click.Option):
            continue
        long = next((o for o in param.opts if o.startswith("--")), None)
        for opt in param.opts:
            if long and not opt.startswith("--"):
                longs[opt] = long
        if not param.is_flag:
            takes_value.update(param.opts)
    for name in ctx.help_option_names:
        if not name.startswith("--"):
            longs.setdefault(name, "--help")
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = longs.get(args[i], args[i])
        if arg == "--":
            return out + args[i:]
        out.append(arg)
        if arg.startswith("-") and arg != "-":
            if arg in takes_value and i + 1 < len(args):
                out.append(args[i + 1])
                i += 1
        elif stop_at_positional:
            return out + args[i + 1 :]
        i += 1
    return out


def _show_help(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        import click

        click.echo(ctx.get_help(), color=ctx.color)
        ctx.exit()


def help_option() -> click.Option:
    """Trick 4: Click's -h/--help, with its text written out rather than looked up by gettext."""
    import click

    return click.Option(["-h", "--help"], is_flag=True, expose_value=False, is_eager=True,
                        callback=_show_help, help="Show this message and exit.")


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        import click

        from daemonctl import __version__

        click.echo(f"daemonctl, version {__version__}")
        ctx.exit()


def version_option(command: Any) -> Any:
    """Trick 4: click.version_option written out, as a decorator of the group."""
    import click

    return click.option("-V", "--version", is_flag=True, expose_value=False, is_eager=True,
                        callback=_show_version, help="Show the version and exit.")(command)


def file_path() -> click.ParamType[Any, Any]:
    """Trick 4: click.Path(dir_okay=False), whose __init__ calls gettext and so loads locale
    on every run of every command (4 M instructions), written out."""
    import click

    class FilePath(click.ParamType):  # type: ignore[type-arg]  # generic from Click 8.2 on, not in 8.1
        name = "file"

        def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
            if os.path.isdir(value):
                self.fail(f"File {click.format_filename(value)!r} is a directory.", param, ctx)
            if os.path.exists(value) and not os.access(value, os.R_OK):
                self.fail(f"File {click.format_filename(value)!r} is not readable.", param, ctx)
            return value

        def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
            from click.shell_completion import CompletionItem

            return [CompletionItem(incomplete, type="file")]

    return FilePath()


class LazyCommands(MutableMapping[str, "click.Command"]):
    """Trick 10: the group's commands, each module of them imported when one of its commands is
    first looked up (`where`: command name -> module, whose decorators add its commands here).

    Building a command's Click options is most of the CLI's own import: a `start` need not
    build the options of eight other commands, nor `status` the forty of `start`. `--help`
    and completion list every name, and look up each command, which loads them all.
    """

    def __init__(self, where: dict[str, str]) -> None:
        self.where = where
        self.loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self.loaded and name in self.where:
            import_module(self.where[name])
        return self.loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self.loaded[name] = command

    def __delitem__(self, name: str) -> None:
        self.where.pop(name, None)
        del self.loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted({*self.where, *self.loaded}))

    def __len__(self) -> int:
        return len({*self.where, *self.loaded})
