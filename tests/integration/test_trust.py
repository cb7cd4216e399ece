"""Issue 6, trust: as root, daemonctl refuses (exit 4, saying why) pidfiles, state
directories and log symlinks that someone else could have tampered with
(issue 10: a log symlink is never followed at all).

(Names avoid the words the PID-namespace re-run selects by.)
"""
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from .helpers import SLEEP, alive, assert_ok, assert_one_error

pytestmark = pytest.mark.integration

NOBODY = 65534


@pytest.fixture
def root():
    if os.geteuid() != 0:
        pytest.skip("the trust rules for pidfiles apply to root")


@pytest.fixture
def shared_dir(request):
    """A world-writable directory outside the test's private tmp_path."""
    d = Path(tempfile.mkdtemp(prefix="dctl-trust-"))
    request.addfinalizer(lambda: shutil.rmtree(d, ignore_errors=True))
    return d


def refused(cp, code=4, word=""):
    assert_one_error(cp, code)
    assert "refusing" in cp.stderr and word in cp.stderr, cp.stderr


def test_world_writable_pidfile_is_refused(dctl, root):
    pid = dctl.start("t", SLEEP, "300")
    dctl.pidfile("t").chmod(0o666)
    for args in (["stop", "t"], ["status", "t"], ["signal", "t", "TERM"]):
        refused(dctl(*args), word="world-writable")
    assert alive(pid)


def test_pidfile_in_world_writable_dir_without_sticky_bit(dctl, root, shared_dir):
    shared_dir.chmod(0o777)
    pf = shared_dir / "t.pid"
    pid = dctl.start("t", SLEEP, "300", pidfile=pf)
    refused(dctl("stop", "t"), word="sticky")
    refused(dctl("stop", "-p", pf), word="sticky")
    shared_dir.chmod(0o1777)
    assert_ok(dctl("stop", "t"))
    assert not alive(pid)


def test_pidfile_owned_by_another_user_is_refused(dctl, root, shared_dir):
    """nobody writes a pidfile naming a root process: stop must not kill it."""
    victim = dctl.spawn(SLEEP, "300")
    pf = shared_dir / "v.pid"
    pf.write_text(f"{victim.pid}\n")
    os.chown(pf, NOBODY, NOBODY)
    refused(dctl("stop", "-p", pf), word="uid 65534")
    refused(dctl("status", "-p", pf), word="uid 65534")
    assert victim.poll() is None


def test_pidfile_owned_by_the_daemons_user_is_accepted(dctl, root, shared_dir):
    pid = dctl.start("t", SLEEP, "300", opts=["--user", str(NOBODY) + ":" + str(NOBODY)])
    os.chown(dctl.pidfile("t"), NOBODY, NOBODY)
    assert dctl("status", "t").returncode == 0
    assert_ok(dctl("stop", "t"))
    assert not alive(pid)


def test_symlinked_pidfile_is_never_followed(dctl, root, shared_dir):
    victim = dctl.spawn(SLEEP, "300")
    real = shared_dir / "real.pid"
    real.write_text(f"{victim.pid}\n")
    link = shared_dir / "link.pid"
    link.symlink_to(real)
    refused(dctl("stop", "-p", link), word="symbolic link")
    assert victim.poll() is None


def test_state_dir_of_another_user_or_writable_by_others(dctl, root, shared_dir):
    state = shared_dir / "state"
    state.mkdir()
    os.chown(state, NOBODY, NOBODY)
    for args in (["start", "-n", "t", SLEEP, "300"], ["status"], ["stop", "t"], ["logs", "t"]):
        refused(dctl(*args, state_dir=state), word="belongs to uid 65534")
    os.chown(state, 0, 0)
    state.chmod(0o777)
    refused(dctl("start", "-n", "t", SLEEP, "300", state_dir=state), word="writable by everyone")
    refused(dctl("remove", "t", state_dir=state), code=1, word="writable by everyone")
    assert os.listdir(state) == []


def test_log_symlink_owned_by_someone_else_is_refused(dctl, root, shared_dir):
    target = shared_dir / "precious"
    target.write_text("keep me\n")
    link = shared_dir / "out.log"
    link.symlink_to(target)
    os.lchown(link, NOBODY, NOBODY)
    cp = dctl("start", "-n", "t", "-o", link, SLEEP, "300")
    refused(cp, word="symbolic link")
    assert target.read_text() == "keep me\n"
    assert not dctl.pidfile("t").exists() and not dctl.recordfile("t").exists()


def test_log_symlink_is_never_followed_even_roots(dctl, root, shared_dir):
    """CONTRACT "Trust": a log never follows a symlink, whoever made it."""
    target = shared_dir / "real.log"
    link = shared_dir / "out.log"
    link.symlink_to(target)
    refused(dctl("start", "-n", "t", "-o", link, SLEEP, "300"), word="symbolic link")
    assert not target.exists()
