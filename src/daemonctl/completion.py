"""Values for shell completion (Click calls these only while completing)."""

from __future__ import annotations

import signal

import click

from .state import StateDir


def daemon_names(ctx: click.Context, incomplete: str) -> list[str]:
    """The daemons in the state directory the command line names (--state-dir or default)."""
    try:
        names = StateDir.resolve(ctx.find_root().params.get("state_dir")).names()
    except Exception:  # a traceback must never land in the user's shell
        return []
    return [n for n in names if n.startswith(incomplete)]


def signal_names(ctx: click.Context, incomplete: str) -> list[str]:
    """Signal names without SIG, as `signal NAME HUP` takes them."""
    names = sorted({s.name[3:] for s in signal.Signals if not s.name.startswith("SIG_")})
    prefix = incomplete.upper().removeprefix("SIG")
    return [n for n in names if n.startswith(prefix)]


def name_or_signal(ctx: click.Context, incomplete: str) -> list[str]:
    """`signal`'s first argument: a daemon's name, or the SIGNAL when -p gave the pidfile."""
    if ctx.params.get("pidfile") is not None:
        return signal_names(ctx, incomplete)
    return daemon_names(ctx, incomplete)
