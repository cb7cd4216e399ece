"""The shipped completion scripts: what TAB offers in a real bash, zsh and fish.

The scripts are the project's own and speak daemonctl's own format (daemonctl.cli.completion), so
they work whatever the Click version, and every option of the CLI is offered without a new script.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import SLEEP

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = {"bash": "daemonctl.bash", "zsh": "_daemonctl", "fish": "daemonctl.fish"}
SHELLS = sorted(SCRIPTS)

# zsh's completion system only runs inside the line editor: its builtins are replaced by
# ones that print what they were given, and the script is autoloaded from fpath, as installed.
ZSH_HARNESS = r"""
_describe() { local arr=${@[-2]}; print -rl -- "${(@P)arr}" }
compadd() { local arr=${@[-1]}; print -rl -- "${(@P)arr}" }
_path_files() { print -r -- "<files>" }
fpath=($1 $fpath); shift
autoload -Uz _daemonctl
words=(daemonctl "$@"); CURRENT=$#words
_daemonctl
"""


def fish_quote(word: str) -> str:
    if word and all(c.isalnum() or c in "-_./=@%+:," for c in word):
        return word
    return "'" + word.replace("\\", "\\\\").replace("'", "\\'") + "'"


def offers(shell: str, env: dict, *words, script_dir: Path = ROOT / "completions") -> list[str]:
    """What SHELL offers for TAB after `daemonctl WORDS` (the last word is being completed)."""
    words = [str(w) for w in words]
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed (Debian package {shell}; make tools installs it)")
    if shell == "bash":
        argv = ["bash", "--norc", "-c",
                f"source {script_dir / SCRIPTS['bash']}\n"
                'COMP_WORDS=(daemonctl "$@"); COMP_CWORD=$#\n'
                "_daemonctl_completion daemonctl\n"
                'printf "%s\\n" "${COMPREPLY[@]}"\n', "bash", *words]
    elif shell == "zsh":
        argv = ["zsh", "-f", "-c", ZSH_HARNESS, "zsh", str(script_dir), *words]
    else:
        # An empty word being completed is the cursor after a space.
        line = " ".join(["daemonctl", *map(fish_quote, words[:-1]), fish_quote(words[-1]) if words[-1] else ""])
        argv = ["fish", "--no-config", "-c", f"source {script_dir / SCRIPTS['fish']}; complete -C $argv[1]", line]
    cp = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
    assert cp.returncode == 0 and cp.stderr == "", cp.stderr
    # zsh's _describe gets VALUE:HELP (colons in VALUE escaped), fish prints VALUE<TAB>HELP.
    values = []
    for line in cp.stdout.splitlines():
        if shell == "zsh":
            line = line.replace("\\:", "\0").split(":", 1)[0].replace("\0", ":")
        values.append(line.split("\t", 1)[0])
    return sorted(v for v in values if v)


def shell_env(dctl, **extra) -> dict:
    return {**dctl.env, "PATH": f"{Path(dctl.exe).parent}{os.pathsep}{os.environ['PATH']}", **extra}


@pytest.fixture
def two_daemons(dctl):
    dctl.start("web", SLEEP, "300")
    dctl.start("worker", SLEEP, "300")
    return dctl


@pytest.mark.parametrize("shell", SHELLS)
def test_names_come_from_the_state_dir_option(two_daemons, shell):
    d, env = two_daemons, shell_env(two_daemons)
    for command in ("stop", "status", "restart", "logs", "remove", "signal"):
        assert offers(shell, env, "--state-dir", d.state_dir, command, "") == ["web", "worker"], command
    assert offers(shell, env, "--state-dir", d.state_dir, "stop", "wo") == ["worker"]
    assert offers(shell, env, "--state-dir", d.state_dir, "export", "systemd", "") == ["web", "worker"]
    assert offers(shell, env, "--state-dir", d.state_dir, "start", "-n", "w") == ["web", "worker"]


@pytest.mark.parametrize("shell", SHELLS)
def test_names_come_from_the_environment(two_daemons, tmp_path, shell):
    env = shell_env(two_daemons, DAEMONCTL_STATE_DIR=str(two_daemons.state_dir))
    assert offers(shell, env, "stop", "") == ["web", "worker"]
    assert offers(shell, env, "--state-dir", tmp_path / "none", "stop", "") == []


@pytest.mark.parametrize("shell", SHELLS)
def test_signals_commands_and_formats(two_daemons, shell):
    d, env = two_daemons, shell_env(two_daemons)
    assert offers(shell, env, "--state-dir", d.state_dir, "signal", "web", "US") == ["USR1", "USR2"]
    assert "HUP" in offers(shell, env, "--state-dir", d.state_dir, "signal", "web", "")
    assert offers(shell, env, "sta") == ["start", "status"]
    assert offers(shell, env, "export", "") == ["supervisor", "systemd"]
    # Values that start with a dash, with help texts: what fish choked on with Click 8.4.
    assert offers(shell, env, "start", "--ready-") == ["--ready-file", "--ready-log", "--ready-port", "--ready-timeout"]


def test_a_quoted_state_dir_is_unquoted_in_bash(dctl, tmp_path):
    other = dctl.with_state_dir(tmp_path / "a b")
    other.start("spaced", SLEEP, "300")
    assert offers("bash", shell_env(dctl), "--state-dir", f"'{tmp_path}/a b'", "stop", "") == ["spaced"]
    assert offers("bash", shell_env(dctl), "--state-dir", str(tmp_path / "a b").replace(" ", "\\ "),
                  "stop", "sp") == ["spaced"]


# Another Click, another wire format: a daemonctl whose Click answers its own bash, zsh and fish
# protocols differently. Scripts that parse Click's formats break; the shipped ones must not care.
OTHER_CLICK = """
import sys
import click.shell_completion as sc
for cls in (sc.BashComplete, sc.ZshComplete, sc.FishComplete):
    cls.format_completion = lambda self, item: f"{item.value}\\n{item.type}"
from daemonctl.__main__ import main
main()
"""


@pytest.mark.parametrize("shell", SHELLS)
def test_the_scripts_do_not_depend_on_clicks_own_formats(dctl, tmp_path, shell):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "daemonctl"
    wrapper.write_text(f"#!{sys.executable}\n{OTHER_CLICK}")
    wrapper.chmod(0o755)
    env = {**dctl.env, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    assert offers(shell, env, "start", "--ready-") == ["--ready-file", "--ready-log", "--ready-port", "--ready-timeout"]
    assert offers(shell, env, "sig") == ["signal"]


def cli_options() -> dict[str, set[str]]:
    """Every command of the installed daemonctl, with every option it takes."""
    from daemonctl.cli.commands import cli

    commands = {"": {opt for p in cli.params for opt in getattr(p, "opts", []) if opt.startswith("--")}}
    for name, command in cli.commands.items():
        commands[name] = {opt for p in command.params for opt in getattr(p, "opts", []) + getattr(p, "secondary_opts", [])
                          if opt.startswith("--")}
    return commands


@pytest.mark.parametrize("shell", SHELLS)
def test_every_command_and_option_of_the_cli_is_offered(dctl, shell):
    """Fails when the shipped scripts lag behind the CLI (a new command or option not offered)."""
    env = shell_env(dctl)
    commands = cli_options()
    assert set(offers(shell, env, "")) == set(commands) - {""}
    for name, options in commands.items():
        words = [name] if name else []
        assert set(offers(shell, env, *words, "--")) >= options, name


def test_bash_completes_the_value_of_an_option_given_with_an_equals_sign(two_daemons):
    # bash splits `--respawn=al` into `--respawn`, `=`, `al`: the script joins them back.
    d, env = two_daemons, shell_env(two_daemons)
    assert offers("bash", env, "start", "--respawn", "=", "") == ["always", "on-failure"]
    assert offers("bash", env, "start", "--respawn", "=", "al") == ["always"]
    assert offers("bash", env, "--state-dir", "=", d.state_dir, "stop", "w") == ["web", "worker"]
