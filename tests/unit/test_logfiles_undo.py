"""The undo of a start that never ran: the logs it created go, by the rule they came by.

Between the creation and the undo the daemon's user may swap its log directory for a
link to one of root's holding a file of the same name: root must not unlink that.
"""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from daemonctl.proc.privileges import Credentials
from daemonctl.store.logfiles import Logs
from daemonctl.store.record import StartSpec

NOBODY = 65534


@pytest.fixture
def top():
    if os.geteuid() != 0:
        pytest.skip("the daemon user's rights matter when daemonctl runs as root")
    path = Path(tempfile.mkdtemp(prefix="dctl-undo-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def spec(log: Path) -> StartSpec:
    return StartSpec(command=["true"], executable="/bin/true", pidfile=str(log.parent / "x.pid"),
                     stdout=str(log), stderr=str(log))


def test_created_log_is_removed(top):
    home = top / "home"
    home.mkdir()
    os.chown(home, NOBODY, NOBODY)
    logs = Logs.open(spec(home / "app.log"), Credentials(NOBODY, NOBODY, None))
    logs.close()
    assert (home / "app.log").stat().st_uid == NOBODY
    logs.remove_created()
    assert not (home / "app.log").exists()


def test_undo_never_removes_roots_file_behind_the_users_link(top):
    home = top / "home"
    (home / "logs").mkdir(parents=True)
    os.chown(home, NOBODY, NOBODY)
    os.chown(home / "logs", NOBODY, NOBODY)
    roots = top / "roots"
    roots.mkdir(mode=0o755)
    logs = Logs.open(spec(home / "logs" / "app.log"), Credentials(NOBODY, NOBODY, None))
    logs.close()
    # What the user may do meanwhile: its directory becomes a link to root's.
    (home / "logs").rename(home / "old")
    (home / "logs").symlink_to(roots)
    (roots / "app.log").write_text("root's\n")
    logs.remove_created()
    assert (roots / "app.log").read_text() == "root's\n"
