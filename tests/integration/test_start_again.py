"""CONTRACT "start options" (the paragraphs after the table): `start` of a NAME that runs,
with the same command (exit 0) or a different one (exit 1, nothing started)."""
import os

import pytest

from .helpers import PY, SLEEP, alive, assert_ok, assert_one_error, cmdline, error_lines

pytestmark = pytest.mark.integration

SERVE = "import sys, time; print(sys.argv[1], flush=True); time.sleep(300)"


def test_different_command_under_a_running_name_fails(dctl):
    # issue 11 #5: the second server was reported "already running" and never started.
    pid = dctl.start("web", PY, "-c", SERVE, "18090")
    record_before = dctl.recordfile("web").read_bytes()
    cp = dctl("start", "-n", "web", PY, "-c", SERVE, "18091")
    assert_one_error(cp, 1, only_line=True)
    line = error_lines(cp.stderr)[0]
    assert "18090" in line and f"pid {pid}" in line  # names the running command
    assert "-n NAME" in line and "daemonctl restart web -- " in line
    assert dctl.pid("web") == pid and alive(pid)
    assert dctl.recordfile("web").read_bytes() == record_before
    assert [p for p in dctl.token_pids() if "18091" in cmdline(p)] == []


def test_the_running_command_is_named_on_one_line_whatever_its_arguments_hold(dctl):
    pid = dctl.start("web", PY, "-c", SERVE, "line\nbreak")
    cp = dctl("start", "-n", "web", PY, "-c", SERVE, "18091")
    assert_one_error(cp, 1, only_line=True)
    assert f"pid {pid}: {PY} -c '{SERVE}' $'line\\nbreak')" in cp.stderr
    assert dctl.pid("web") == pid


def test_default_name_collision_names_the_running_command(dctl):
    assert_ok(dctl("start", SLEEP, "300"))
    pid = dctl.track(dctl.pid("sleep"))
    cp = dctl("start", SLEEP, "301")
    assert_one_error(cp, 1, only_line=True)
    assert f"{SLEEP} 300" in cp.stderr
    assert [p for p in dctl.token_pids() if cmdline(p)[1:] == ["301"]] == []
    assert dctl.pid("sleep") == pid


def test_same_command_spelled_otherwise_is_already_running(dctl, tmp_path):
    # argv[0] by name or by path: the same executable with the same arguments.
    pid = dctl.start("s", os.path.basename(SLEEP), "300")
    cp = dctl("start", "-n", "s", SLEEP, "300")
    assert_ok(cp)
    assert error_lines(cp.stderr) == [] and "already running" in cp.stderr
    assert dctl.pid("s") == pid


def test_same_command_with_other_options_is_already_running(dctl, tmp_path):
    pid = dctl.start("s", SLEEP, "300")
    cp = dctl("start", "-n", "s", "--env", "A=1", "-o", tmp_path / "other.log", SLEEP, "300")
    assert_ok(cp)
    assert "already running" in cp.stderr
    assert dctl.pid("s") == pid
    assert not (tmp_path / "other.log").exists()


def test_start_without_program_of_a_running_name_is_already_running(dctl):
    pid = dctl.start("s", SLEEP, "300")
    cp = dctl("start", "-n", "s")
    assert_ok(cp)
    assert "already running" in cp.stderr and dctl.pid("s") == pid
