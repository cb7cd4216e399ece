"""Issue 6, privilege drop: --user, --group and --nice (root only; skipped otherwise).

(Names avoid the words the PID-namespace re-run selects by.)
"""
import json
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from .helpers import NOBODY, SLEEP, assert_ok, environ, proc_status

pytestmark = pytest.mark.integration



@pytest.fixture
def root_only():
    if os.geteuid() != 0:
        pytest.skip("needs root")
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody")


def ids(pid: int, key: str) -> list[int]:
    return [int(x) for x in proc_status(pid)[key].split()]


CALLER_GROUPS = (4244, 4245)


def start_by_root_with_groups(dctl, name: str, *program, opts) -> int:
    """`start` run by a root that has supplementary groups (CALLER_GROUPS): a daemon that
    kept them would show them, where a root without any would show nothing."""
    argv = ["setpriv", "--groups=" + ",".join(map(str, CALLER_GROUPS)), *dctl.argv("start", "-n", name, *opts, *program)]
    cp = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=dctl.env, stdin=subprocess.DEVNULL)
    assert_ok(cp)
    return dctl.track(dctl.pid(name))


def test_program_runs_as_the_user_with_its_account(dctl, root_only):
    pid = start_by_root_with_groups(dctl, "u", SLEEP, "300", opts=["--user", "nobody", "--nice", "7"])
    assert ids(pid, "Uid") == [root_only.pw_uid] * 4
    assert ids(pid, "Gid") == [root_only.pw_gid] * 4
    assert ids(pid, "Groups") == sorted(set(os.getgrouplist("nobody", root_only.pw_gid)))
    assert int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[16]) == 7
    env = environ(pid)
    assert env["USER"] == env["LOGNAME"] == "nobody"
    assert env["HOME"] == root_only.pw_dir and env["SHELL"] == root_only.pw_shell
    assert os.stat(dctl.logfile("u")).st_uid == root_only.pw_uid
    assert os.stat(dctl.pidfile("u")).st_uid == 0 and os.stat(dctl.recordfile("u")).st_uid == 0


def test_user_colon_gid_and_numbers(dctl, root_only):
    pid = start_by_root_with_groups(dctl, "u", SLEEP, "300", opts=["--user", f"{root_only.pw_uid}:4242"])
    assert ids(pid, "Uid")[0] == root_only.pw_uid
    assert ids(pid, "Gid")[0] == 4242
    assert ids(pid, "Groups") == sorted(set(os.getgrouplist("nobody", 4242)))


def test_uid_without_account_keeps_only_its_gid(dctl, root_only):
    pid = start_by_root_with_groups(dctl, "u", SLEEP, "300", opts=["--user", "4246:4247"])
    assert ids(pid, "Uid") == [4246] * 4 and ids(pid, "Gid") == [4247] * 4
    assert ids(pid, "Groups") == [4247]


def test_gid_option_alone_keeps_uid(dctl, root_only):
    pid = start_by_root_with_groups(dctl, "u", SLEEP, "300", opts=["-g", "4243"])
    assert ids(pid, "Uid")[0] == 0 and ids(pid, "Gid")[0] == 4243
    assert proc_status(pid)["Groups"].split() == ["4243"]


def test_recorded_kept_by_rs_and_shown_in_json(dctl, root_only):
    dctl.start("u", SLEEP, "300", opts=["--user", "nobody", "--nice", "3"])
    cp = dctl("restart", "-t", "5", "u")
    assert_ok(cp)
    pid = dctl.track(dctl.pid("u"))
    assert ids(pid, "Uid")[0] == root_only.pw_uid
    data = json.loads(dctl("status", "--json", "u").stdout)
    assert (data["user"], data["group"], data["nice"]) == ("nobody", None, 3)
    assert_ok(dctl("stop", "u"))


@pytest.mark.parametrize("opts", [["--user", "no-such-user-x"], ["-g", "no-such-grp-x"],
                                  ["--user", "nobody:0", "-g", "0"], ["--user", ":x"]])
def test_bad_user_is_usage(dctl, opts):
    cp = dctl("start", "-n", "u", *opts, SLEEP, "300")
    assert cp.returncode == 2, cp
    assert not dctl.pidfile("u").exists() and not dctl.recordfile("u").exists()


def test_non_root_asking_for_another_user_gets_4(dctl, root_only, request, nobody_daemonctl):
    state = Path(tempfile.mkdtemp(prefix="dctl-nb-"))
    request.addfinalizer(lambda: shutil.rmtree(state, ignore_errors=True))
    os.chown(state, 65534, 65534)
    cp = subprocess.run([*NOBODY, nobody_daemonctl, "--state-dir", str(state), "start", "-n", "u", "--user", "root",
                         SLEEP, "300"], capture_output=True, text=True, timeout=30, env=dctl.env)
    assert cp.returncode == 4, cp
    assert cp.stderr.startswith("daemonctl: error: only root can run")
    assert os.listdir(state) == []
