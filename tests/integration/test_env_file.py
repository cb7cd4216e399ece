"""start --env-file: read at every start, so restart sees the file as it is then."""
from __future__ import annotations

import pytest

from .helpers import SLEEP, assert_ok, assert_one_error, environ

pytestmark = pytest.mark.integration


def test_env_file_is_read_again_on_restart(dctl, tmp_path):
    env_file = tmp_path / "app.env"
    env_file.write_text("# settings\nGREETING='hello world'\nLEVEL=1\n")
    pid = dctl.start("app", SLEEP, "300", opts=["--env-file", env_file, "--env", "LEVEL=cli"])
    assert environ(pid)["GREETING"] == "hello world" and environ(pid)["LEVEL"] == "cli"
    assert dctl.record("app")["env_file"] == str(env_file)
    env_file.write_text("GREETING=changed\n")
    assert_ok(dctl("restart", "app"))
    new = dctl.track(dctl.pid("app"))
    assert new != pid and environ(new)["GREETING"] == "changed"


def test_relative_env_file_is_resolved_against_the_callers_directory(dctl, tmp_path):
    (tmp_path / "rel.env").write_text("WHERE=here\n")
    pid = dctl.start("rel", SLEEP, "300", opts=["--env-file", "rel.env"], cwd=tmp_path)
    assert environ(pid)["WHERE"] == "here"


@pytest.mark.parametrize("content", ["OK=1\nthis is not an assignment\n", "A='unterminated\n", None])
def test_bad_env_file_is_bad_usage_and_leaves_nothing(dctl, tmp_path, content):
    env_file = tmp_path / "bad.env"
    if content is not None:
        env_file.write_text(content)
    cp = dctl("start", "-n", "bad", "--env-file", env_file, SLEEP, "300")
    assert_one_error(cp, 2, only_line=True)
    assert str(env_file) in cp.stderr
    assert not dctl.pidfile("bad").exists() and not dctl.recordfile("bad").exists()
    assert dctl.token_pids() == []


def test_restart_with_a_broken_env_file_keeps_the_daemon_running(dctl, tmp_path):
    env_file = tmp_path / "app.env"
    env_file.write_text("A=1\n")
    pid = dctl.start("app", SLEEP, "300", opts=["--env-file", env_file])
    env_file.write_text('A="broken\n')
    assert_one_error(dctl("restart", "app"), 2, only_line=True)
    assert dctl.pid("app") == pid
