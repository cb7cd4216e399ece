"""How daemonctl's command line is parsed, beyond what Click does by itself."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import click

from daemonctl import __version__
from daemonctl.limits import MAX_COUNT, MAX_SECONDS

_COMPLETE_VAR = "_DAEMONCTL_COMPLETE"  # Click's name for it, from the program name
PASSTHROUGH = {"allow_interspersed_args": False}


class Seconds(click.FloatRange):
    """A time option: a finite number of seconds within the range a record holds (store/schema.py)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        import math

        seconds = super().convert(value, param, ctx)
        if not math.isfinite(seconds):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        return seconds


SECONDS = Seconds(min=0, max=MAX_SECONDS)
POSITIVE_SECONDS = Seconds(min=0, min_open=True, max=MAX_SECONDS)
COUNT = click.IntRange(min=0, max=MAX_COUNT)

START_EPILOG = """\b
Supervision: --respawn keeps a small supervisor resident that starts PROGRAM
again when it ends (on-failure: non-zero exit or a signal; always: any end that
daemonctl did not ask for). Quick failures (runs shorter than --min-uptime) double
the delay, up to --restart-delay-max; after --max-restarts of them in a row it
gives up (state failed).
\b
  daemonctl start -n api --respawn --restart-delay 2 --max-restarts 5 -- ./api-server
  daemonctl start -n worker --respawn=always -- python3 worker.py

\b
Readiness: start returns 0 only once the daemon is ready (all given checks pass
within --ready-timeout); otherwise it stops the daemon, exits 1 and shows why
and the last lines of its log.
\b
  daemonctl start -n web --ready-port 8080 -- python3 -m http.server 8080
  daemonctl start -n db --ready-file /run/db/ready -- ./db --init
  daemonctl start -n app --ready-log 'listening on' --ready-timeout 60 -- ./app
  daemonctl start -n svc --notify -- ./svc      # svc sends READY=1 to $NOTIFY_SOCKET
"""


def _show_help(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(ctx.get_help(), color=ctx.color)
        ctx.exit()


def _help_option() -> click.Option:
    # Click's own help option takes its text from gettext, loading the locale
    # module on every run: this one is the same flag with the text written out.
    return click.Option(["-h", "--help"], is_flag=True, expose_value=False, is_eager=True,
                        callback=_show_help, help="Show this message and exit.")


class FastCommand(click.Command):
    """A command whose short options are spelled long before Click parses them.

    Click tries every short option as a long one first and, on the way, builds a
    "did you mean" list with difflib: a millisecond and more per `-n`, on every
    status check a cron job makes. Exact short options are rewritten to their
    long form; anything else (`-nweb`, typos) is left for Click as it was.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["add_help_option"] = False
        super().__init__(*args, **kwargs)
        self.params.append(_help_option())

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, spell_long(args, self.params, ctx, not ctx.allow_interspersed_args))


class FastGroup(click.Group):
    command_class = FastCommand

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["add_help_option"] = False
        super().__init__(*args, **kwargs)
        self.params.append(_help_option())

    def main(self, *args: Any, **kwargs: Any) -> Any:
        if _COMPLETE_VAR in os.environ:
            # The shipped shell scripts speak daemonctl's own format, not Click's per-shell ones.
            from daemonctl.cli.completion import register

            register()
        return super().main(*args, **kwargs)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # A group stops at its subcommand: what follows is the subcommand's.
        return super().parse_args(ctx, spell_long(args, self.params, ctx, True))


def spell_long(args: list[str], params: list[click.Parameter], ctx: click.Context, stop_at_positional: bool) -> list[str]:
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


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"daemonctl, version {__version__}")
        ctx.exit()


# Written out rather than click.version_option, whose gettext defaults load the
# locale module on every run, --version or not.
version_option = click.option(
    "-V", "--version", is_flag=True, expose_value=False, is_eager=True, callback=_show_version,
    help="Show the version and exit.",
)


QUIET = "daemonctl.quiet"  # in ctx.meta, which every context of a command line shares
quiet_option = click.option(
    "-q", "--quiet", is_flag=True, expose_value=False, help="Print no informational messages; errors still print.",
    callback=lambda ctx, param, value: ctx.meta.update({QUIET: True}) if value else None,
)


def completer(which: str) -> Callable[[click.Context, click.Parameter, str], list[str]]:
    """A shell_complete callback that imports daemonctl.cli.completion only when completing."""

    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
        from daemonctl.cli import completion

        words: Callable[[click.Context, str], list[str]] = getattr(completion, which)
        return words(ctx, incomplete)
    return complete


NAMES, SIGNALS = completer("daemon_names"), completer("signal_names")
NAME_OR_SIGNAL = completer("name_or_signal")  # signal's first argument: SIGNAL after -p


timeout_option = click.option(
    "-t", "--timeout", type=SECONDS, default=None, metavar="SECONDS",
    help="Seconds to wait after each of TERM, HUP, KILL (default 10).",
)
schedule_option = click.option(
    "--schedule", metavar="SCHEDULE",
    help="Signals and waits, start-stop-daemon style: TERM/30/KILL/5.",
)
