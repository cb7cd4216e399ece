"""Every trick the command line plays for speed, in one place, each with its measured gain.

A run of daemonctl is mostly the interpreter's start and Click's import: the floor,
`python3 -c 'import click'`, is 170 M instructions. The README's targets (Performance)
hold daemonctl's own share within 1.2x to 1.3x of that; these tricks are most of the
margin. Gains are instructions saved per run by each trick alone, counted by callgrind
(benchmarks/instructions.py) on 2026-11-30 with Python 3.11.7 and Click 8.5.1, by
undoing the one trick and counting again (floor 170 M; with every trick: `--help`
177 M, `start -n NAME` 201 M, `status NAME` 184 M):

| # | trick | --help | start -n | status NAME | status -p F |
|---|---|---|---|---|---|
| 1 | gc off while Click and the CLI load, then frozen (console_script) | 8.4 M | 7.9 M | 8.5 M | 8.5 M |
| 2 | os._exit, not the interpreter's teardown (console_script) | 6.0 M | 7.2 M | 6.3 M | 6.2 M |
| 3 | exact short options spelled long before Click parses (spell_long) | 0 | 6.4 M | 0 | 6.4 M |
| 4 | -h/--help and -V/--version written out (help_option, version_option) | 0 | 3.8 M | 3.9 M | 4.2 M |

When to delete each: measure again (`make bench`, benchmarks/instructions.py) after a
Python or Click upgrade, and drop a trick that no longer saves 1 M:
1. when the interpreter's collector no longer scans the objects an import creates (the
   incremental collector of newer Pythons may do it);
2. when interpreter teardown stops costing more than a status check's own work;
3. when Click stops building a difflib "did you mean" list while it tries a short option
   as a long one (click.parser, _match_long_opt);
4. when Click's default help and version options stop calling gettext at creation, which
   loads the locale module on every run.

Rules rather than code, kept where they apply and checked by tests: modules import what
is costly (json, re, the core) inside the function that needs it (tests/unit/test_cli.py,
test_supervisor_lean.py); modules that define a NamedTuple do not defer annotations
(tests/unit/test_namedtuple_annotations.py, about 4 M on start by its own account).

Dropped (2026-11-30): `import _signal as signal` in eight modules instead of `signal`
(whose enums cost 3 M on start and status): a private CPython module for 1.5%.

This module imports no Click at its top: console_script must turn collection off before
Click is imported (daemonctl/__main__.py calls it first thing). The functions that build
Click objects import it where they run, after it is loaded.
"""

from __future__ import annotations

import gc
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    import click


def console_script() -> None:
    """Trick 1 and 2: run the CLI with collection off while it loads, and leave with os._exit."""
    # Importing Click and the CLI makes some 19,000 container objects that live as
    # long as the process: collecting while they are made only finds them all alive.
    # Collect afterwards, among what the command makes.
    gc.disable()
    from daemonctl.cli.commands import main as run

    gc.freeze()
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
