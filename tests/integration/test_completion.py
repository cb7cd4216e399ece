"""The committed completion scripts: current with the CLI, and what TAB offers in a real bash."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from .conftest import SLEEP

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = {"bash": "daemonctl.bash", "zsh": "_daemonctl", "fish": "daemonctl.fish"}


@pytest.mark.parametrize("shell", sorted(SCRIPTS))
def test_committed_scripts_are_what_make_completions_writes(daemonctl_exe, shell):
    env = {**os.environ, "_DAEMONCTL_COMPLETE": f"{shell}_source"}
    fresh = subprocess.run([daemonctl_exe], env=env, capture_output=True, text=True, timeout=30).stdout
    assert fresh and (ROOT / "completions" / SCRIPTS[shell]).read_text() == fresh, "run `make completions`"


def tab(dctl, *words: str, env: dict | None = None) -> list[str]:
    """What bash offers for TAB after `daemonctl WORDS` (the last word is being completed)."""
    script = (
        f"source {ROOT / 'completions' / 'daemonctl.bash'}\n"
        'COMP_WORDS=(daemonctl "$@"); COMP_CWORD=$#\n'
        "_daemonctl_completion daemonctl\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {**(env or dctl.env), "PATH": f"{Path(dctl.exe).parent}{os.pathsep}{os.environ['PATH']}"}
    cp = subprocess.run(["bash", "--norc", "-c", script, "bash", *words], env=env,
                        capture_output=True, text=True, timeout=30)
    assert cp.returncode == 0 and "Traceback" not in cp.stderr, cp.stderr
    return [line for line in cp.stdout.splitlines() if line]


@pytest.fixture
def two_daemons(dctl):
    dctl.start("web", SLEEP, "300")
    dctl.start("worker", SLEEP, "300")
    return dctl


def test_names_come_from_the_state_dir_option(two_daemons):
    d = two_daemons
    for command in ("stop", "status", "restart", "logs", "remove", "signal"):
        assert tab(d, "--state-dir", d.state_dir, command, "") == ["web", "worker"], command
    assert tab(d, "--state-dir", d.state_dir, "stop", "wo") == ["worker"]
    assert tab(d, "--state-dir", d.state_dir, "export", "systemd", "") == ["web", "worker"]
    assert tab(d, "--state-dir", d.state_dir, "start", "-n", "w") == ["web", "worker"]


def test_names_come_from_the_environment(two_daemons, tmp_path):
    env = {**two_daemons.env, "DAEMONCTL_STATE_DIR": str(two_daemons.state_dir)}
    assert tab(two_daemons, "stop", "", env=env) == ["web", "worker"]
    assert tab(two_daemons, "--state-dir", tmp_path / "none", "stop", "", env=env) == []


def test_signals_commands_and_formats(two_daemons):
    d = two_daemons
    assert tab(d, "--state-dir", d.state_dir, "signal", "web", "US") == ["USR1", "USR2"]
    assert "HUP" in tab(d, "--state-dir", d.state_dir, "signal", "web", "")
    assert tab(d, "sta") == ["start", "status"]
    assert tab(d, "export", "") == ["systemd", "supervisor"]
    assert "--env-file" in tab(d, "start", "--")
