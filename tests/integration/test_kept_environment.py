"""CONTRACT "start options": the environment the program is started with is recorded, and
restart / start -n NAME bring it back whoever calls them; --update-env takes the caller's
(issue 11 #6). The recorded environment does not leak."""
import os
import stat

import pytest

from .helpers import SLEEP, TOKEN_VAR, assert_ok, environ

pytestmark = pytest.mark.integration

SHELL_PATH = "/opt/tools/bin:/usr/local/bin:/usr/bin:/bin"
SECRET = "s3cr3t-value-1234"


def shell_env(dctl) -> dict:
    """The environment of the engineer's shell that first starts the worker."""
    return {**dctl.env, "PATH": SHELL_PATH, "MYVAR": "hello", "API_TOKEN": SECRET}


def cron_env(dctl) -> dict:
    """cron's: a bare PATH and nothing of the shell (the token only finds strays at teardown)."""
    return {"PATH": "/usr/bin:/bin", TOKEN_VAR: dctl.token}


@pytest.fixture
def worker(dctl):
    pid = dctl.start("worker", SLEEP, "300", env=shell_env(dctl))
    assert environ(pid)["MYVAR"] == "hello"
    return pid


def test_restart_by_cron_keeps_the_environment(dctl, worker):
    assert_ok(dctl("restart", "worker", env=cron_env(dctl)))
    pid = dctl.track(dctl.pid("worker"))
    assert pid != worker
    env = environ(pid)
    assert env["MYVAR"] == "hello" and env["PATH"] == SHELL_PATH


def test_start_again_by_name_keeps_the_environment(dctl, worker):
    assert_ok(dctl("stop", "worker"))
    assert_ok(dctl("start", "-n", "worker", "--env", "EXTRA=1", env=cron_env(dctl)))
    env = environ(dctl.track(dctl.pid("worker")))
    assert env["MYVAR"] == "hello" and env["PATH"] == SHELL_PATH and env["EXTRA"] == "1"


def test_env_file_read_again_over_the_recorded_environment(dctl, tmp_path):
    env_file = tmp_path / "w.env"
    env_file.write_text("MYVAR=from-file\n")
    dctl.start("worker", SLEEP, "300", opts=["--env-file", env_file], env=shell_env(dctl))
    env_file.write_text("MYVAR=file-changed\n")
    assert_ok(dctl("restart", "worker", env=cron_env(dctl)))
    env = environ(dctl.track(dctl.pid("worker")))
    assert env["MYVAR"] == "file-changed" and env["PATH"] == SHELL_PATH


@pytest.mark.parametrize("how", [["restart", "--update-env", "worker"], ["start", "-n", "worker", "--update-env"]],
                         ids=["restart", "start"])
def test_update_env_takes_the_callers(dctl, worker, how):
    if how[0] == "start":
        assert_ok(dctl("stop", "worker"))
    caller = {**cron_env(dctl), "OTHER": "2"}
    assert_ok(dctl(*how, env=caller))
    env = environ(dctl.track(dctl.pid("worker")))
    assert "MYVAR" not in env and env["OTHER"] == "2" and env["PATH"] == "/usr/bin:/bin"
    # ... and it is the one recorded from now on.
    assert_ok(dctl("restart", "worker", env=shell_env(dctl)))
    env = environ(dctl.track(dctl.pid("worker")))
    assert "MYVAR" not in env and env["OTHER"] == "2"


def test_start_with_a_program_takes_the_callers_environment(dctl, worker):
    assert_ok(dctl("stop", "worker"))
    assert_ok(dctl("start", "-n", "worker", SLEEP, "300", env={**cron_env(dctl), "OTHER": "3"}))
    env = environ(dctl.track(dctl.pid("worker")))
    assert "MYVAR" not in env and env["OTHER"] == "3"


def test_restart_with_a_new_program_finds_it_in_the_recorded_path(dctl, tmp_path, worker):
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "my-worker").symlink_to(SLEEP)
    dctl.start("w2", SLEEP, "300", env={**shell_env(dctl), "PATH": f"{tools}:/usr/bin:/bin"})
    assert_ok(dctl("restart", "w2", "--", "my-worker", "301", env=cron_env(dctl)))
    assert dctl.record("w2")["executable"] == str(tools / "my-worker")
    dctl.track(dctl.pid("w2"))


def test_recorded_environment_does_not_leak(dctl, worker):
    assert stat.S_IMODE(os.stat(dctl.recordfile("worker")).st_mode) == 0o600
    assert SECRET in dctl.recordfile("worker").read_text()  # it is kept, but only there
    for args in (["status", "--json", "worker"], ["status", "--json"], ["status", "worker"],
                 ["export", "systemd", "worker"], ["export", "supervisor", "worker"]):
        cp = dctl(*args)
        assert SECRET not in cp.stdout + cp.stderr, args
    cp = dctl("start", "-n", "worker", SLEEP, "301")  # an error line naming the running command
    assert cp.returncode == 1 and SECRET not in cp.stderr


def test_a_corrupt_recorded_environment_quotes_no_value(dctl, worker):
    assert_ok(dctl("stop", "worker"))
    text = dctl.recordfile("worker").read_text()
    dctl.recordfile("worker").write_text(text.replace(f'"API_TOKEN": "{SECRET}"', f'"API_TOKEN": ["{SECRET}"]', 1)
                                         .replace(f'"API_TOKEN":"{SECRET}"', f'"API_TOKEN":["{SECRET}"]', 1))
    assert SECRET in dctl.recordfile("worker").read_text()
    cp = dctl("start", "-n", "worker", env=cron_env(dctl))
    assert cp.returncode == 1 and "caller_env" in cp.stderr and SECRET not in cp.stderr, cp.stderr
