"""Issue 10, leftovers: a command that finds nothing to act on needs no lock, so a user
who may not write root's state directory gets the command's own exit code for an
unknown NAME (stop: 0, "was not running"), not exit 4 for a lock file it cannot create.

(Names avoid the words the PID-namespace re-run selects by.)
"""
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from .helpers import SLEEP, assert_ok, assert_one_error

pytestmark = pytest.mark.integration

# Each command's contract code for a NAME with no record (and no pidfile), as root gets it.
UNKNOWN_NAME = [
    (["stop", "-t", "1", "nosuch"], 0),
    (["status", "nosuch"], 3),
    (["status", "--json", "nosuch"], 3),
    (["signal", "nosuch", "HUP"], 7),
    (["logs", "nosuch"], 2),
    (["remove", "nosuch"], 2),
    (["export", "systemd", "nosuch"], 2),
    (["export", "supervisor", "nosuch"], 2),
    (["restart", "nosuch"], 6),
    (["start", "-n", "nosuch"], 6),
]
IDS = ["halt", "state", "state-json", "send", "logs", "remove", "export-systemd", "export-supervisor",
       "again", "start-without-program"]


@pytest.fixture
def roots_dir(dctl, nobody_daemonctl):
    """A state directory of root's, 0755 with a daemon in it: readable, not writable, by nobody."""
    path = Path(tempfile.mkdtemp(prefix="dctl-itest-"))
    path.chmod(0o755)
    root = dctl.with_state_dir(path)
    root.nobody_exe = nobody_daemonctl
    root.start("other", SLEEP, "300")
    yield root
    shutil.rmtree(path, ignore_errors=True)


def as_nobody(root, *args):
    return subprocess.run(root.nobody_argv(*args), capture_output=True, text=True,
                          timeout=30, env=root.env, stdin=subprocess.DEVNULL)


def check(cp, code):
    if code == 0:
        assert_ok(cp)
        assert "no daemon named nosuch" in cp.stderr + cp.stdout
    else:
        assert_one_error(cp, code)


@pytest.mark.parametrize("cmd,code", UNKNOWN_NAME, ids=IDS)
def test_unknown_name_gets_the_contract_code_from_a_user_who_cannot_write_the_directory(roots_dir, cmd, code):
    before = sorted(p.name for p in roots_dir.state_dir.iterdir())
    check(as_nobody(roots_dir, *cmd), code)
    check(roots_dir(*cmd), code)  # the same as root's
    # Nothing to act on, nothing created: not even a lock file.
    assert sorted(p.name for p in roots_dir.state_dir.iterdir()) == before
