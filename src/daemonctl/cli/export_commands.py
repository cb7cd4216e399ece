"""export (a daemon as a systemd unit or a supervisord section) and serve (the API and dashboard)."""

from __future__ import annotations

import click

from daemonctl.cli.commands import cli, say, schedule_of, state_of
from daemonctl.cli.params import NAMES, quiet_option, schedule_option, timeout_option
from daemonctl.cli.speedups import file_path
from daemonctl.exitcodes import ExitStatus


@cli.command("export")
@quiet_option
@timeout_option
@schedule_option
@click.argument("kind", metavar="FORMAT", type=click.Choice(["systemd", "supervisor"]))
@click.argument("name", shell_complete=NAMES)
@click.pass_context
def export_cmd(ctx: click.Context, timeout: float | None, schedule: str | None, kind: str, name: str) -> int:
    """Print NAME as a systemd unit or a supervisord [program:NAME] section (a set: a template unit, numprocs)."""
    from daemonctl import export

    state = state_of(ctx)
    a_set = export.load_set(state, name) if "@" not in name else None
    if a_set is not None:
        from daemonctl.export.sets import default_pidfile

        record, count = a_set
        text, notes = export.render(kind, record, schedule_of(timeout, schedule), default_pidfile(state, name), count)
    else:
        record = export.load(state, name)
        text, notes = export.render(kind, record, schedule_of(timeout, schedule), state.pidfile(record.name))
    click.echo(text, nl=False)
    for note in notes:  # also comments in the text; -q does not hide what was not exported
        click.echo(f"daemonctl: warning: {kind} export of {record.name} leaves out {note}", err=True)
    return ExitStatus.OK




@cli.command()
@quiet_option
@click.option("--socket", "socket_path", type=file_path(), metavar="PATH",
              help="Serve on this unix socket (default STATE_DIR/daemonctl.sock, mode 0600).")
@click.option("--listen", "listen_on", metavar="[HOST:]PORT",
              help="Serve on TCP instead (HOST 127.0.0.1 by default); the API then needs the token.")
@click.option("--token-file", type=file_path(), metavar="FILE",
              help="The API's bearer token; made (mode 0600) when missing (default STATE_DIR/daemonctl.token).")
@click.option("--read-only", is_flag=True, help="Refuse every change (403).")
@click.pass_context
def serve(ctx: click.Context, socket_path: str | None, listen_on: str | None, token_file: str | None,
          read_only: bool) -> int:
    """Serve the JSON API and the web dashboard until stopped."""
    from daemonctl.serve.server import serve as do_serve

    def announce(where: str, token_path: str | None) -> None:
        say(f"serving {where}" + (f" (API token in {token_path})" if token_path else ""))

    do_serve(state_of(ctx), socket_path, listen_on, token_file, read_only, announce)
    return ExitStatus.OK
