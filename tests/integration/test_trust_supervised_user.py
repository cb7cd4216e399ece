"""Issue 10, leftovers: the `--respawn` supervisor of a daemon that runs as another user.

Its user's credentials are resolved once, when the supervisor starts: the user removed
from the password database while its daemon runs changes nothing at the next run. And
whatever fails at a later run is told in one `daemonctl:` line in the log and counted as
a failed start; the supervisor never crashes.

(Names avoid the words the PID-namespace re-run selects by.)
"""
import json
import os
import pwd
import shutil
import subprocess
import uuid

import pytest

from .helpers import SH, SLEEP, alive, assert_ok, log_lines, proc_status, wait_for

pytestmark = pytest.mark.integration

NOBODY = 65534


@pytest.fixture
def temp_user(request):
    """A system user of this test's own, removed again at the end whatever happens."""
    if os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("userdel"):
        pytest.skip("needs root, useradd and userdel")
    name = f"dctl{uuid.uuid4().hex[:8]}"
    cp = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                        capture_output=True, text=True, timeout=30)
    if cp.returncode != 0:
        pytest.skip(f"useradd failed: {cp.stderr.strip()}")
    # -f: its processes may still run when this runs (they are killed after).
    request.addfinalizer(lambda: subprocess.run(["userdel", "-f", name], capture_output=True, timeout=30))
    return pwd.getpwnam(name)


def record(dctl, name):
    return json.loads(dctl("status", "--json", name).stdout)


def test_user_removed_while_its_daemon_runs_is_still_supervised(dctl, top, temp_user):
    home = top / "home"
    home.mkdir()
    os.chown(home, temp_user.pw_uid, temp_user.pw_gid)
    flag = top / "flag"
    log = top / "app.log"
    script = (f'echo "run $(id -u) $(id -g)"; [ -e {home}/once ] && exec sleep 300; touch {home}/once; '
              f'while [ ! -e {flag} ]; do sleep 0.05; done; exit 1')
    dctl.start("app", SH, "-c", script,
               opts=["--user", temp_user.pw_name, "-o", log, "--respawn", "--restart-delay", "0.1"])
    first = record(dctl, "app")
    assert wait_for(lambda: len(log_lines(log)) == 1)
    cp = subprocess.run(["userdel", "-f", temp_user.pw_name], capture_output=True, text=True, timeout=30)
    assert cp.returncode == 0, cp.stderr
    with pytest.raises(KeyError):
        pwd.getpwnam(temp_user.pw_name)
    flag.touch()  # the first run ends with status 1: the supervisor starts the next

    def second_run():
        rec = record(dctl, "app")
        return rec["state"] == "running" and rec["restarts"] == 1 and len(log_lines(log)) == 2

    assert wait_for(second_run, timeout=20), (record(dctl, "app"), log_lines(log))
    rec = record(dctl, "app")
    assert rec["supervisor_pid"] == first["supervisor_pid"] and alive(rec["supervisor_pid"])
    ids = f"run {temp_user.pw_uid} {temp_user.pw_gid}"
    assert log_lines(log) == [ids, ids]
    assert proc_status(rec["pid"])["Uid"].split()[0] == str(temp_user.pw_uid)
    assert_ok(dctl("stop", "app"))
    assert not alive(rec["pid"])


def test_a_later_run_that_cannot_exec_is_told_in_one_line_and_counted(dctl, top):
    """The program removes itself: every later exec fails, each is a failed start,
    and the supervisor gives up by the policy instead of ending without a word."""
    home = top / "home"
    home.mkdir()
    os.chown(home, NOBODY, NOBODY)
    program = home / "run.sh"
    program.write_text('#!/bin/sh\nrm -f "$0"\nexit 1\n')
    program.chmod(0o755)
    os.chown(program, NOBODY, NOBODY)
    log = top / "app.log"
    assert_ok(dctl("start", "-n", "app", "--user", "nobody", "-o", log, "--respawn", "--restart-delay", "0.1",
                   "--max-restarts", "2", program))
    assert wait_for(lambda: record(dctl, "app")["state"] == "failed", timeout=30), record(dctl, "app")
    told = [line for line in log_lines(log) if line.startswith("daemonctl:")]
    assert len(told) == 2, log_lines(log)  # one per later run: the two restarts
    assert all(str(program) in line and "No such file" in line for line in told), told
    assert not any("Traceback" in line for line in log_lines(log))


def test_user_removed_while_its_daemon_runs_can_still_be_halted(dctl, top, temp_user):
    """Its pidfile, in its own directory, is its own: with the user gone from the password
    database, the recorded (and verified) process still tells whose the pidfile may be."""
    home = top / "home"
    home.mkdir()
    os.chown(home, temp_user.pw_uid, temp_user.pw_gid)
    pidfile = home / "app.pid"
    pid = dctl.start("app", SLEEP, "300", opts=["--user", temp_user.pw_name, "-o", top / "app.log"], pidfile=pidfile)
    assert pidfile.stat().st_uid == temp_user.pw_uid
    cp = subprocess.run(["userdel", "-f", temp_user.pw_name], capture_output=True, text=True, timeout=30)
    assert cp.returncode == 0, cp.stderr
    assert dctl("status", "app").returncode == 0
    assert_ok(dctl("stop", "app"))
    assert not alive(pid) and not pidfile.exists()
