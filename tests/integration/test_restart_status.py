"""CONTRACT "restart" and "status" (--json fields, listing every daemon)."""
import json
import os
import signal
from datetime import datetime

import pytest

from .helpers import SLEEP, alive, assert_ok, cmdline, wait_gone

pytestmark = pytest.mark.integration


def test_restart_running_gives_new_pid_same_command(dctl, tmp_path):
    pid = dctl.start("r", SLEEP, "300", opts=["-d", tmp_path, "--umask", "077",
                                              "--env", "FOO=1"])
    before = dctl.record("r")
    assert_ok(dctl("restart", "-t", "1", "r"))
    new = dctl.track(dctl.pid("r"))
    assert new != pid and alive(new) and not alive(pid)
    assert cmdline(new)[1:] == ["300"]
    after = dctl.record("r")
    assert after["command"] == before["command"]
    assert after["state"] == "running" and after["pid"] == new
    # recorded start options are reused
    assert os.readlink(f"/proc/{new}/cwd") == str(tmp_path)
    assert "Umask:\t0077" in open(f"/proc/{new}/status").read()


def test_restart_replaces_command(dctl):
    pid = dctl.start("r", SLEEP, "300")
    assert_ok(dctl("restart", "-t", "1", "r", "--", "sleep", "301"))
    new = dctl.track(dctl.pid("r"))
    assert new != pid and not alive(pid)
    assert cmdline(new)[1:] == ["301"]
    assert os.path.realpath(f"/proc/{new}/exe") == os.path.realpath(SLEEP)
    assert dctl.record("r")["command"][1:] == ["301"]
    # and the replacement sticks for the next restart
    assert_ok(dctl("restart", "-t", "1", "r"))
    assert cmdline(dctl.track(dctl.pid("r")))[1:] == ["301"]


def test_restart_unknown_exits_6(dctl):
    cp = dctl("restart", "ghost")
    assert cp.returncode == 6 and "Traceback" not in cp.stderr
    assert not dctl.recordfile("ghost").exists() and not dctl.pidfile("ghost").exists()


JSON_KEYS = {"name", "state", "pid", "pidfile", "command", "started_at", "stdout", "stderr"}


def test_status_json_running_dead_stopped(dctl, tmp_path):
    err = tmp_path / "err.log"
    pid = dctl.start("j", SLEEP, "300", opts=["-e", err])
    cp = dctl("status", "--json", "j")
    assert_ok(cp)
    obj = json.loads(cp.stdout)
    assert JSON_KEYS <= set(obj)
    assert obj["name"] == "j" and obj["state"] == "running" and obj["pid"] == pid
    assert obj["pidfile"] == str(dctl.pidfile("j"))
    assert obj["command"] == [SLEEP, "300"]
    assert obj["stdout"] == str(dctl.logfile("j")) and obj["stderr"] == str(err)
    assert datetime.fromisoformat(obj["started_at"].replace("Z", "+00:00")).tzinfo is not None

    os.kill(pid, signal.SIGKILL)
    assert wait_gone(pid)
    cp = dctl("status", "--json", "j")
    assert cp.returncode == 1
    assert json.loads(cp.stdout)["state"] == "dead"

    assert_ok(dctl("stop", "j"))
    cp = dctl("status", "--json", "j")
    assert cp.returncode == 3
    obj = json.loads(cp.stdout)
    assert obj["state"] == "stopped" and obj["pid"] is None


def test_status_lists_all_daemons(dctl):
    a = dctl.start("alpha", SLEEP, "300")
    dctl.start("beta", SLEEP, "300")
    assert_ok(dctl("stop", "beta"))
    cp = dctl("status")
    assert "Traceback" not in cp.stderr
    header, *lines = cp.stdout.splitlines()
    assert header.split()[:3] == ["NAME", "STATE", "PID"] and len(lines) == 2, cp.stdout
    assert any("alpha" in ln and str(a) in ln for ln in lines)
    assert any("beta" in ln for ln in lines)
    cp = dctl("status", "--json")
    arr = json.loads(cp.stdout)
    assert isinstance(arr, list) and len(arr) == 2
    by_name = {o["name"]: o for o in arr}
    assert by_name["alpha"]["state"] == "running" and by_name["alpha"]["pid"] == a
    assert by_name["beta"]["state"] == "stopped"
    for o in arr:
        assert JSON_KEYS <= set(o)


def test_status_list_empty_state_dir(dctl):
    cp = dctl("status", "--json")
    assert "Traceback" not in cp.stderr
    assert json.loads(cp.stdout) == []
