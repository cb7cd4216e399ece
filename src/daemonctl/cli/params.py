"""How daemonctl's command line is parsed, beyond what Click does by itself."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import click

from daemonctl.cli.speedups import help_option, spell_long
from daemonctl.cli.speedups import version_option as version_option
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


class FastCommand(click.Command):
    """A command with speedups 3 and 4 (cli/speedups.py): short options spelled long before
    Click parses them, and the help option written out."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["add_help_option"] = False
        super().__init__(*args, **kwargs)
        self.params.append(help_option())

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, spell_long(args, self.params, ctx, not ctx.allow_interspersed_args))


class FastGroup(click.Group):
    """The group of every command, with the speedups of FastCommand."""

    command_class = FastCommand

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["add_help_option"] = False
        super().__init__(*args, **kwargs)
        self.params.append(help_option())

    def main(self, *args: Any, **kwargs: Any) -> Any:
        if _COMPLETE_VAR in os.environ:
            # The shipped shell scripts speak daemonctl's own format, not Click's per-shell ones.
            from daemonctl.cli.completion import register

            register()
        return super().main(*args, **kwargs)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # A group stops at its subcommand: what follows is the subcommand's.
        return super().parse_args(ctx, spell_long(args, self.params, ctx, True))


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
