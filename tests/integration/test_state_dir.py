"""CONTRACT "Where state lives": --state-dir, DAEMONCTL_STATE_DIR, the per-user default,
pidfile format."""
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from .helpers import NOBODY, SLEEP, alive, assert_ok, read_pidfile

pytestmark = pytest.mark.integration



def run(dctl, *args, env, prefix=(), exe=None):
    return subprocess.run([*prefix, exe or dctl.exe, *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=30, stdin=subprocess.DEVNULL)


def test_state_dir_from_environment(dctl, tmp_path):
    env = dict(dctl.env, DAEMONCTL_STATE_DIR=str(tmp_path / "envstate"))
    dctl.extra_state_dirs.append(tmp_path / "envstate")
    assert_ok(run(dctl, "start", "-n", "e", SLEEP, "300", env=env))
    pid = dctl.track(read_pidfile(tmp_path / "envstate" / "e.pid"))
    assert alive(pid)
    assert (tmp_path / "envstate" / "e.log").exists()
    assert run(dctl, "status", "e", env=env).returncode == 0
    assert_ok(run(dctl, "stop", "e", env=env))
    assert not alive(pid)


def test_state_dir_option_wins_over_environment(dctl, tmp_path):
    env = dict(dctl.env, DAEMONCTL_STATE_DIR=str(tmp_path / "envstate"))
    assert_ok(dctl("start", "-n", "o", SLEEP, "300", env=env))
    pid = dctl.track(dctl.pid("o"))
    assert alive(pid)
    assert not (tmp_path / "envstate" / "o.pid").exists()


def test_pidfile_holds_only_the_pid(dctl):
    pid = dctl.start("pf", SLEEP, "300")
    assert dctl.pidfile("pf").read_text() == f"{pid}\n"


@pytest.fixture
def nobody_home(dctl, nobody_daemonctl):
    home = Path(tempfile.mkdtemp(prefix="dctl-home-"))
    home.chmod(0o755)
    os.chown(home, 65534, 65534)  # nobody's own: a state directory inside one others may write is refused
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.mark.parametrize("xdg", [True, False], ids=["XDG_STATE_HOME", "HOME"])
def test_default_state_dir_for_non_root(dctl, nobody_home, nobody_daemonctl, xdg):
    env = {k: v for k, v in dctl.env.items() if k not in ("XDG_STATE_HOME", "HOME")}
    env["HOME"] = str(nobody_home)
    if xdg:
        env["XDG_STATE_HOME"] = str(nobody_home / "xdg")
        state = nobody_home / "xdg" / "daemonctl"
    else:
        state = nobody_home / ".local" / "state" / "daemonctl"
    dctl.extra_state_dirs.append(state)
    cp = run(dctl, "start", "-n", "u", SLEEP, "300", env=env, prefix=NOBODY, exe=nobody_daemonctl)
    assert_ok(cp)
    pid = dctl.track(read_pidfile(state / "u.pid"))
    assert os.stat(f"/proc/{pid}").st_uid == 65534
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert_ok(run(dctl, "stop", "u", env=env, prefix=NOBODY, exe=nobody_daemonctl))
    assert not alive(pid)
