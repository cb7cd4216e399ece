"""The one place where a failure becomes output: `daemonctl: error: ...` on stderr, and its exit code."""

from __future__ import annotations

from collections.abc import Callable

import click

from daemonctl.errors import DaemonctlError
from daemonctl.exitcodes import ExitStatus


def _error(message: str) -> None:
    click.echo(f"daemonctl: error: {message}", err=True)


def report(err: DaemonctlError) -> int:
    """Write `err` as one error line (and a failed start's last log lines); its exit code."""
    _error(err.message)
    if err.log_tail:
        click.echo("last lines of its log:", err=True)
        for line in err.log_tail:
            click.echo(f"  | {line}", err=True)
    return int(err.exit_code)


def run_reporting(command: Callable[[], object]) -> int:
    """Run `command`; every error, daemonctl's or Click's, becomes its line on stderr and its exit code."""
    try:
        code = command()
    except DaemonctlError as err:
        return report(err)
    except getattr(click.exceptions, "NoArgsIsHelpError", ()) as err:
        # `daemonctl` alone (Click 8.2+): the help itself, not an error line.
        click.echo(err.format_message(), err=True)
        return ExitStatus.USAGE
    except click.UsageError as err:
        hint = f" (see '{err.ctx.command_path} --help')" if err.ctx else ""
        _error(f"{err.format_message()}{hint}")
        return ExitStatus.USAGE
    except click.ClickException as err:
        _error(err.format_message())
        return err.exit_code
    except (click.Abort, KeyboardInterrupt):
        return ExitStatus.INTERRUPTED
    return int(code) if isinstance(code, int) else ExitStatus.OK
