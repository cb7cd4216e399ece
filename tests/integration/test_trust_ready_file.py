"""Issue 10, leftovers: `--ready-file PATH` in a directory of the daemon's user, as root.

Whether start waited (and kept the program) is something the user sees, so the check
must not tell it what exists where only root may look: PATH is looked at with the
user's rights where it can change what PATH names, and a symbolic link at PATH counts
as there, unfollowed (see the man page's --ready-file).

(Names avoid the words the PID-namespace re-run selects by.)
"""
import os

import pytest

from .helpers import SH, assert_ok, assert_one_error

pytestmark = pytest.mark.integration

NOBODY = 65534
AS_NOBODY = ["--user", "nobody"]


@pytest.fixture
def hidden(tmp_path):
    """A root-only directory (tmp_path is under a 0700 one), and the path of a file in it."""
    d = tmp_path / "hidden"
    d.mkdir(mode=0o700)
    return d


@pytest.mark.parametrize("there", [True, False], ids=["secret-there", "secret-missing"])
def test_ready_file_through_the_users_symlink_never_tells_what_root_can_see(dctl, home, hidden, there):
    """The program links a directory of its user's to a root-only one and names a file in
    it: whether that file exists, start is never ready (nobody cannot look there)."""
    if there:
        (hidden / "secret").write_text("x\n")
    link = home / "d"
    cp = dctl("start", "-n", "app", *AS_NOBODY, "--ready-file", link / "secret", "--ready-timeout", "2",
              SH, "-c", f"ln -s {hidden} {link}; exec sleep 300")
    assert_one_error(cp, 1)
    assert "ready" in cp.stderr
    assert not dctl.pidfile("app").exists()


@pytest.mark.parametrize("there", [True, False], ids=["target-there", "target-missing"])
def test_a_symlink_at_the_ready_file_counts_and_is_never_followed(dctl, home, hidden, there):
    """The program's own link is what it made: ready, whatever it points at."""
    if there:
        (hidden / "secret").write_text("x\n")
    ready = home / "ready"
    cp = dctl("start", "-n", "app", *AS_NOBODY, "--ready-file", ready, "--ready-timeout", "10",
              SH, "-c", f"ln -s {hidden / 'secret'} {ready}; exec sleep 300")
    assert_ok(cp)
    pid = dctl.track(dctl.pid("app"))
    assert ready.is_symlink() and pid > 1


def test_ready_file_of_the_user_is_seen_as_before(dctl, home):
    ready = home / "sub" / "ready"
    cp = dctl("start", "-n", "app", *AS_NOBODY, "--ready-file", ready, "--ready-timeout", "10",
              SH, "-c", f"mkdir {ready.parent} && touch {ready}; exec sleep 300")
    assert_ok(cp)
    dctl.track(dctl.pid("app"))


def test_ready_log_reopened_through_the_users_symlink_reads_nothing_of_roots(dctl, home, hidden):
    """The program moves its log directory away (a rotation, to the log check) and puts a
    link to a root-only directory in its place: the log there is never read as root."""
    (hidden / "app.log").write_text("READY\n")
    logs = home / "logs"
    logs.mkdir()
    os.chown(logs, NOBODY, NOBODY)
    script = f"mv {logs} {home}/old; ln -s {hidden} {logs}; exec sleep 300"
    cp = dctl("start", "-n", "app", *AS_NOBODY, "-o", logs / "app.log", "--ready-log", "READY",
              "--ready-timeout", "3", SH, "-c", script)
    assert_one_error(cp, 1)
    assert "ready" in cp.stderr
    assert not dctl.pidfile("app").exists()
