"""Shell completion: the wire format of the shipped scripts, and the values they offer.

Imported only while completing. The scripts in completions/ are the project's own: they call
`_DAEMONCTL_COMPLETE=words_complete daemonctl` and read the format below, so they do not depend
on the output formats of Click's own bash, zsh and fish scripts, which change between releases.

Request (environment): DAEMONCTL_COMP_WORDS, the words after `daemonctl` and before the one being
completed, one per line; DAEMONCTL_COMP_INCOMPLETE, the word being completed;
DAEMONCTL_COMP_QUOTED=1 when the words are as typed (bash), to be unquoted here.
Answer: one line per candidate, `TYPE<TAB>VALUE<TAB>HELP`, TYPE `plain`, `file` or `dir`.
"""

from __future__ import annotations

import os
import shlex
import signal

import click
from click.shell_completion import CompletionItem, ShellComplete, add_completion_class

from daemonctl.store.statedir import StateDir


class WordsComplete(ShellComplete):
    """Click's completion engine behind daemonctl's own request and answer format."""

    name = "words"
    source_template = ""  # the scripts are shipped in completions/, not generated

    def source(self) -> str:
        raise click.UsageError("the completion scripts are in the completions/ directory of daemonctl")

    def get_completion_args(self) -> tuple[list[str], str]:
        words = os.environ.get("DAEMONCTL_COMP_WORDS", "")
        incomplete = os.environ.get("DAEMONCTL_COMP_INCOMPLETE", "")
        args = words.split("\n") if words else []
        if os.environ.get("DAEMONCTL_COMP_QUOTED") == "1":
            args, incomplete = [unquote(w) for w in args], unquote(incomplete)
        return args, incomplete

    def format_completion(self, item: CompletionItem) -> str:
        return "\t".join((item.type, _one_field(str(item.value)), _one_field(item.help or "")))


def _one_field(text: str) -> str:
    return " ".join(text.split("\t")).replace("\n", " ")


def unquote(word: str) -> str:
    """A word as the shell would pass it: quotes and backslashes removed, if they pair up."""
    try:
        parts = shlex.split(word)
    except ValueError:  # an open quote: the user is still typing it
        try:
            parts = shlex.split(word + ("'" if word.count("'") % 2 else '"'))
        except ValueError:
            return word
    return parts[0] if len(parts) == 1 else word


def register() -> None:
    add_completion_class(WordsComplete)


def daemon_names(ctx: click.Context, incomplete: str) -> list[str]:
    """The daemons in the state directory the command line names (--state-dir or default), and
    the sets their instances make up (`web` for web@1, web@2 ...)."""
    from daemonctl.instances import split

    try:
        names = StateDir.resolve(ctx.find_root().params.get("state_dir")).names()
    except Exception:  # a traceback must never land in the user's shell
        return []
    sets = {parts[0] for parts in map(split, names) if parts is not None} - set(names)
    return sorted(n for n in {*names, *sets} if n.startswith(incomplete))


def signal_names(ctx: click.Context, incomplete: str) -> list[str]:
    """Signal names without SIG, as `signal NAME HUP` takes them."""
    names = sorted({s.name[3:] for s in signal.Signals if not s.name.startswith("SIG_")})
    prefix = incomplete.upper().removeprefix("SIG")
    return [n for n in names if n.startswith(prefix)]


def rlimit_names(ctx: click.Context, incomplete: str) -> list[str]:
    """--limit's resources, each with its `=`."""
    from daemonctl.resource_limits import RLIMITS

    return [f"{name}=" for name in RLIMITS if name.startswith(incomplete.lower())]


def name_or_signal(ctx: click.Context, incomplete: str) -> list[str]:
    """`signal`'s first argument: a daemon's name, or the SIGNAL when -p gave the pidfile."""
    if ctx.params.get("pidfile") is not None:
        return signal_names(ctx, incomplete)
    return daemon_names(ctx, incomplete)
