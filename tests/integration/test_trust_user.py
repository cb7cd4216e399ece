"""Issue 10: as root, for a daemon of user nobody whose files sit in nobody's directory,
daemonctl never reads, writes or hangs on what nobody plants there -- at start and at
every later open (the supervisor's reopen, the env file's re-read, the check before
a restart).

(Names avoid the words the PID-namespace re-run selects by.)
"""
import json
import os
from pathlib import Path

import pytest

from .helpers import SH, SLEEP, alive, assert_ok, assert_one_error, environ, log_lines, wait_for, wait_gone

pytestmark = pytest.mark.integration

NOBODY = 65534
PY3 = "/usr/bin/python3"  # Debian's: nobody cannot run the venv's
AS_NOBODY = ["--user", "nobody"]


@pytest.fixture
def secret(tmp_path):
    """A root-only file in a root-only place (tmp_path is under a 0700 directory)."""
    path = tmp_path / "secret.env"
    path.write_text("SECRET=root-only-value\n")
    path.chmod(0o600)
    return path


def json_status(dctl, name):
    return json.loads(dctl("status", "--json", name).stdout)


# --------------------------------------------------------------------------- defect 1

def test_supervisor_reopen_never_follows_the_users_symlink(dctl, home, tmp_path):
    """Run 1 (as nobody) swaps its log for a symlink to a root file and exits 1: the
    supervisor's reopen is refused, said in one line, and counted as a failed start."""
    victim = tmp_path / "root-only"
    victim.write_text("keep\n")
    victim.chmod(0o600)
    log = home / "app.log"
    script = (f'if [ ! -e {home}/ran ]; then touch {home}/ran; mv {log} {log}.old; '
              f'ln -s {victim} {log}; exit 1; fi; echo leaked; exit 1')
    dctl.start("app", SH, "-c", script,
               opts=[*AS_NOBODY, "-o", log, "--respawn", "--restart-delay", "0.1", "--max-restarts", "1"])
    assert wait_for(lambda: json_status(dctl, "app")["state"] == "failed", timeout=30), json_status(dctl, "app")
    assert victim.read_text() == "keep\n"
    assert log.is_symlink()
    told = [line for line in log_lines(Path(f"{log}.old")) if line.startswith("daemonctl:")]
    assert len(told) >= 1 and "symbolic link" in told[0], log_lines(Path(f"{log}.old"))


def test_supervisor_reopen_creates_nothing_for_the_user_where_it_cannot(dctl, home, tmp_path):
    """The symlink points at a missing path in a root-only place: root must not create it."""
    target = tmp_path / "cron.d-x"
    log = home / "app.log"
    script = f'if [ ! -e {home}/ran ]; then touch {home}/ran; rm {log}; ln -s {target} {log}; exit 1; fi; echo x; exit 1'
    dctl.start("app", SH, "-c", script,
               opts=[*AS_NOBODY, "-o", log, "--respawn", "--restart-delay", "0.1", "--max-restarts", "1"])
    assert wait_for(lambda: json_status(dctl, "app")["state"] == "failed", timeout=30), json_status(dctl, "app")
    assert not target.exists()


def test_first_start_refuses_any_symlink_at_the_log(dctl, home):
    real = home / "real.log"
    link = home / "app.log"
    link.symlink_to(real)
    cp = dctl("start", "-n", "app", *AS_NOBODY, "-o", link, SLEEP, "300")
    assert_one_error(cp, 4)
    assert "symbolic link" in cp.stderr
    assert not real.exists() and not dctl.pidfile("app").exists()


def test_log_in_the_users_directory_is_opened_with_the_users_rights(dctl, home):
    """A root file there (a hard link, say) is not written by root for nobody."""
    log = home / "app.log"
    log.write_text("root's\n")
    log.chmod(0o600)
    cp = dctl("start", "-n", "app", *AS_NOBODY, "-o", log, SH, "-c", "echo hi; exec sleep 300")
    assert_one_error(cp, 4)  # insufficient privilege, as for any "permission denied"
    assert "Permission denied" in cp.stderr
    assert log.read_text() == "root's\n"


def test_log_created_in_the_users_directory_is_the_users(dctl, home):
    log = home / "app.log"
    dctl.start("app", SH, "-c", "echo hi; exec sleep 300", opts=[*AS_NOBODY, "-o", log])
    assert log.stat().st_uid == NOBODY
    assert wait_for(lambda: log_lines(log) == ["hi"])


# --------------------------------------------------------------------------- defect 3

def test_env_file_symlink_to_a_root_secret_is_refused(dctl, home, secret):
    env_file = home / "app.env"
    env_file.symlink_to(secret)
    cp = dctl("start", "-n", "app", *AS_NOBODY, "--env-file", env_file, SLEEP, "300")
    assert_one_error(cp, 4)
    assert "symbolic link" in cp.stderr and "root-only-value" not in cp.stderr
    assert not dctl.pidfile("app").exists()


def test_env_file_replaced_after_start_is_read_as_the_user(dctl, home, secret):
    """The env file is read again at every start: a symlink planted later is refused too,
    before restart stops anything."""
    env_file = home / "app.env"
    env_file.write_text("A=1\n")
    pid = dctl.start("app", SLEEP, "300", opts=[*AS_NOBODY, "--env-file", env_file])
    assert environ(pid)["A"] == "1"
    env_file.unlink()
    env_file.symlink_to(secret)
    assert_one_error(dctl("restart", "app"), 4)
    assert alive(pid)
    assert_ok(dctl("stop", "app"))
    cp = dctl("start", "-n", "app")
    assert_one_error(cp, 4)
    assert "root-only-value" not in cp.stderr


def test_env_file_error_never_quotes_what_the_user_could_not_read(dctl, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root")
    env_file = tmp_path / "root.env"
    env_file.write_text("TOPSECRET-LINE\n")
    env_file.chmod(0o600)
    cp = dctl("start", "-n", "app", *AS_NOBODY, "--env-file", env_file, SLEEP, "300")
    assert_one_error(cp, 2)
    assert "line 1" in cp.stderr and "TOPSECRET" not in cp.stderr


def test_env_file_error_quotes_the_users_own_file(dctl, home):
    env_file = home / "app.env"
    env_file.write_text("NOT-A-VARIABLE\n")
    os.chown(env_file, NOBODY, NOBODY)
    cp = dctl("start", "-n", "app", *AS_NOBODY, "--env-file", env_file, SLEEP, "300")
    assert_one_error(cp, 2)
    assert "NOT-A-VARIABLE" in cp.stderr


# --------------------------------------------------------------------------- defect 4

def test_fifo_as_env_file_fails_at_once(dctl, home):
    fifo = home / "app.env"
    os.mkfifo(fifo)
    os.chown(fifo, NOBODY, NOBODY)
    cp = dctl("start", "-n", "app", *AS_NOBODY, "--env-file", fifo, SLEEP, "300", timeout=20)
    assert_one_error(cp, 4)
    assert "FIFO" in cp.stderr


@pytest.mark.parametrize("how", ["symlink", "device"])
def test_zero_device_as_env_file_is_not_read(dctl, home, how):
    env_file = home / "app.env" if how == "symlink" else Path("/dev/zero")
    if how == "symlink":
        env_file.symlink_to("/dev/zero")
    cp = dctl("start", "-n", "app", *AS_NOBODY, "--env-file", env_file, SLEEP, "300", timeout=20)
    assert_one_error(cp, 4)


def test_big_env_file_is_refused(dctl, home):
    env_file = home / "app.env"
    env_file.write_bytes(b"# padding\n" * 110_000)
    cp = dctl("start", "-n", "app", *AS_NOBODY, "--env-file", env_file, SLEEP, "300", timeout=20)
    assert_one_error(cp, 2)
    assert "larger than" in cp.stderr


def test_fifo_at_the_log_fails_again_before_anything_is_halted(dctl, home):
    log = home / "app.log"
    pid = dctl.start("app", SLEEP, "300", opts=[*AS_NOBODY, "-o", log])
    log.unlink()
    os.mkfifo(log)
    os.chown(log, NOBODY, NOBODY)
    cp = dctl("restart", "app", timeout=20)
    assert_one_error(cp, 4)
    assert "FIFO" in cp.stderr
    assert alive(pid) and dctl.pid("app") == pid


def test_unopenable_log_fails_again_before_anything_is_halted(dctl, home):
    log = home / "app.log"
    pid = dctl.start("app", SLEEP, "300", opts=[*AS_NOBODY, "-o", log])
    log.unlink()
    log.mkdir()
    assert_one_error(dctl("restart", "app"), 1)
    assert alive(pid)


# --------------------------------------------------------------------------- defect 9

NOTIFIER = r"""
import os, socket, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"READY=1", os.environ["NOTIFY_SOCKET"])
time.sleep(300)
"""


def test_notify_works_for_another_user(dctl, home):
    if not os.access(PY3, os.X_OK):
        pytest.skip("no system python3 for nobody to run")
    pid = dctl.start("app", PY3, "-c", NOTIFIER, opts=[*AS_NOBODY, "--notify", "--ready-timeout", "20"])
    assert alive(pid)


def test_symlinked_pidfile_does_not_keep_the_daemon_running(dctl, home, tmp_path):
    """nobody turns its pidfile into a symlink: root's stop still ends the recorded process
    (by its identity), leaves the symlink alone and says so."""
    pidfile = home / "app.pid"
    other = tmp_path / "other.pid"
    victim = dctl.spawn(SLEEP, "300")
    other.write_text(f"{victim.pid}\n")
    pid = dctl.start("app", SLEEP, "300", opts=[*AS_NOBODY], pidfile=pidfile)
    pidfile.unlink()
    pidfile.symlink_to(other)
    cp = dctl("stop", "app")
    assert_ok(cp)
    assert "symbolic link" in cp.stderr and "left it alone" in cp.stderr
    assert wait_gone(pid)
    assert victim.poll() is None
    assert pidfile.is_symlink() and other.read_text() == f"{victim.pid}\n"
    assert json_status(dctl, "app")["state"] == "stopped"


def test_failed_start_never_shows_a_root_file_as_its_log(dctl, home, secret):
    """The program swaps its log for a symlink to a root secret, then fails within --wait:
    the "last lines of its log" are never read through that symlink."""
    log = home / "app.log"
    log.write_text("")
    os.chown(log, NOBODY, NOBODY)
    script = f"echo mine; mv {log} {log}.old; ln -s {secret} {log}; exit 1"
    cp = dctl("start", "-n", "app", *AS_NOBODY, "-o", log, "--wait", "5", SH, "-c", script)
    assert_one_error(cp, 1)
    assert "root-only-value" not in cp.stderr
    assert "mine" in cp.stderr


def test_chdir_is_entered_with_the_users_rights(dctl, home, tmp_path):
    """nobody points its --chdir at a directory only root can reach (tmp_path is under a
    0700 directory): the program must not get in there through a cwd root set up."""
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    hidden.chmod(0o755)
    (hidden / "data").write_text("root-only-value\n")
    link = home / "app"
    link.symlink_to(hidden)
    log = home / "app.log"
    cp = dctl("start", "-n", "app", *AS_NOBODY, "-d", link, "-o", log, "--wait", "1",
              SH, "-c", "cat data; exec sleep 300")
    assert_one_error(cp, 1)
    assert "cannot change directory" in cp.stderr and "Permission denied" in cp.stderr
    assert "root-only-value" not in cp.stderr and "root-only-value" not in "".join(log_lines(log))
