"""man/daemonctl.1 documents every command and option of the CLI, and lints clean."""

import re
import shutil
import subprocess
from pathlib import Path

import click
import pytest

from daemonctl.cli.commands import cli

PAGE = Path(__file__).resolve().parents[2] / "man" / "daemonctl.1"
SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "COMMANDS", "EXIT STATUS",
            "ENVIRONMENT", "FILES", "SIGNALS", "EXAMPLES", "SEE ALSO"]
EVERY_COMMAND = {"-h", "--help", "-q", "--quiet"}  # documented once, in OPTIONS
# The contract's supervision and readiness options (issue 3), part of the interface.
CONTRACT_START = ["--respawn", "--restart-delay", "--restart-delay-max", "--min-uptime", "--max-restarts",
                  "--ready-file", "--ready-port", "--ready-log", "--notify", "--ready-timeout"]


def plain(roff: str) -> str:
    """The page's text with the escapes that matter here undone."""
    return re.sub(r"\\f[BIRP]|\\&|\\c", "", roff).replace("\\-", "-")


def sections(text: str, macro: str) -> dict[str, str]:
    parts = re.split(rf"^\.{macro} (.+)$", text, flags=re.M)
    return {title.strip('"'): body for title, body in zip(parts[1::2], parts[2::2], strict=True)}


TEXT = plain(PAGE.read_text())
SH = sections(TEXT, "SH")
SS = sections(SH["COMMANDS"], "SS")


def option_strings(command: click.Command) -> set[str]:
    return {opt for p in command.params if isinstance(p, click.Option) for opt in p.opts + p.secondary_opts}


def test_required_sections_in_order():
    assert list(SH)[: len(SECTIONS)] == SECTIONS


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_has_a_subsection_with_all_its_options(name):
    assert name in SS, f"command {name} has no .SS {name} under COMMANDS"
    missing = [o for o in option_strings(cli.commands[name]) - EVERY_COMMAND if not re.search(rf"{re.escape(o)}\b", SS[name])]
    assert missing == [], f"options of {name} missing from its subsection: {missing}"
    assert re.search(rf"^\.B(R)? {name}\b", SH["SYNOPSIS"], re.M), f"{name} is not in the SYNOPSIS"


def test_global_options_and_the_every_command_ones():
    for opt in option_strings(cli) | EVERY_COMMAND:
        assert re.search(rf"{re.escape(opt)}\b", SH["OPTIONS"]), opt
    for command in cli.commands.values():
        assert EVERY_COMMAND <= option_strings(command) | {"-h", "--help"}


def test_contract_options_are_documented():
    for opt in CONTRACT_START:
        assert re.search(rf"^\.B[IR]? {re.escape(opt)}\b", SS["start"], re.M), opt


def test_exit_status_covers_every_command():
    titles = " ".join(sections(SH["EXIT STATUS"], "SS"))
    for name in cli.commands:
        assert name in titles, name


@pytest.mark.parametrize("argv", [["mandoc", "-Tlint"], ["groff", "-man", "-ww", "-z"]])
def test_page_lints_clean(argv):
    if shutil.which(argv[0]) is None:
        pytest.skip(f"{argv[0]} is not installed (make tools installs it)")
    cp = subprocess.run([*argv, str(PAGE)], capture_output=True, text=True, timeout=60)
    assert (cp.returncode, cp.stdout + cp.stderr) == (0, "")
