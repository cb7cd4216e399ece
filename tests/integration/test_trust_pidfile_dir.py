"""Issue 10, leftovers: a pidfile in a directory of the daemon's user, as root.

The user can put a symlink to any directory where the pidfile's directory was: root
creates, reads and removes the pidfile there only with that user's rights, so never
in a place the user could not write (see safeopen).

(Names avoid the words the PID-namespace re-run selects by.)
"""
import json
import os
from pathlib import Path

import pytest

from .helpers import SH, SLEEP, alive, assert_ok, assert_one_error, read_pidfile, wait_for

pytestmark = pytest.mark.integration

NOBODY = 65534
AS_NOBODY = ["--user", "nobody"]


@pytest.fixture
def home(home):
    """nobody's DIR (conftest), with a root-only directory beside it."""
    (home.parent / "rootonly").mkdir(mode=0o700)
    return home


def rootonly(home: Path) -> Path:
    return home.parent / "rootonly"


def users_dir(home: Path) -> Path:
    run = home / "run"
    run.mkdir()
    os.chown(run, NOBODY, NOBODY)
    return run


def swap_for_link(home: Path) -> None:
    """What the user can do at any time: its run directory becomes a link to root's."""
    (home / "run").rename(home / "run.old")
    (home / "run").symlink_to(rootonly(home))
    os.lchown(home / "run", NOBODY, NOBODY)


def test_pidfile_is_never_created_through_the_users_link(dctl, home):
    (home / "run").symlink_to(rootonly(home))
    cp = dctl("start", "-n", "app", *AS_NOBODY, "-o", home / "app.log", "-p", home / "run" / "app.pid",
              SLEEP, "300")
    assert_one_error(cp, 1)
    assert "cannot write pidfile" in cp.stderr and "Permission denied" in cp.stderr
    assert list(rootonly(home).iterdir()) == []
    assert not dctl.recordfile("app").exists()


def test_pidfile_in_the_users_dir_is_the_users(dctl, home):
    pidfile = users_dir(home) / "app.pid"
    pid = dctl.start("app", SLEEP, "300", opts=[*AS_NOBODY, "-o", home / "app.log"], pidfile=pidfile)
    assert pidfile.stat().st_uid == NOBODY
    assert json.loads(dctl("status", "--json", "app").stdout)["state"] == "running"
    assert_ok(dctl("stop", "app"))
    assert not alive(pid) and not pidfile.exists()


def test_root_file_behind_the_users_link_is_neither_read_nor_removed(dctl, home):
    """The link names a root file holding the daemon's own PID: it is left alone, and the
    daemon, which its record names, is halted all the same."""
    pidfile = users_dir(home) / "app.pid"
    pid = dctl.start("app", SLEEP, "300", opts=[*AS_NOBODY, "-o", home / "app.log"], pidfile=pidfile)
    swap_for_link(home)
    planted = rootonly(home) / "app.pid"
    planted.write_text(f"{pid}\n")
    cp = dctl("stop", "app")
    assert_ok(cp)
    assert not alive(pid)
    assert planted.read_text() == f"{pid}\n"
    assert "left it alone" in cp.stderr + cp.stdout


def test_supervisor_leaves_a_root_file_behind_the_users_link(dctl, home):
    """At its end the supervisor removes its pidfile: never through the user's link."""
    pidfile = users_dir(home) / "app.pid"
    flag = home / "flag"
    script = f"while [ ! -e {flag} ]; do sleep 0.05; done"
    dctl.start("app", SH, "-c", script, opts=[*AS_NOBODY, "-o", home / "app.log", "--respawn"], pidfile=pidfile)
    supervisor = read_pidfile(pidfile)
    swap_for_link(home)
    planted = rootonly(home) / "app.pid"
    planted.write_text(f"{supervisor}\n")
    flag.touch()  # the program exits 0: not restarted, the supervisor finishes
    assert wait_for(lambda: not alive(supervisor), timeout=20)
    assert json.loads(dctl("status", "--json", "app").stdout)["state"] == "exited"
    assert planted.read_text() == f"{supervisor}\n"
