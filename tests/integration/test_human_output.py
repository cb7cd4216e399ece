"""What people read: the status table, colour rules, -q, and messages that name the next step."""
from __future__ import annotations

import os
import pty
import subprocess

import pytest

from .helpers import SH, SLEEP, assert_ok

pytestmark = pytest.mark.integration


def test_status_table_is_aligned_and_fits_the_width(dctl):
    dctl.start("web", SH, "-c", "exec sleep 300", *["padding"] * 40)
    dctl.start("a-longer-name", SLEEP, "301")
    assert_ok(dctl("stop", "a-longer-name"))
    env = {**dctl.env, "COLUMNS": "60"}
    cp = dctl("status", env=env)
    assert_ok(cp)
    header, *rows = cp.stdout.splitlines()
    assert header.split() == ["NAME", "STATE", "PID", "UPTIME", "RESTARTS", "COMMAND"]
    assert [r.split()[0] for r in rows] == ["a-longer-name", "web"]
    assert all(len(line) <= 60 for line in cp.stdout.splitlines())
    assert rows[1].endswith("...") and "\x1b" not in cp.stdout
    assert rows[0].index("stopped") == rows[1].index("running") == header.index("STATE")


def test_status_table_has_one_row_per_daemon_whatever_the_arguments_hold(dctl):
    dctl.start("nl", SH, "-c", "exec sleep 300", "line\nbreak", "it's")
    dctl.start("esc", SH, "-c", "exec sleep 301", "\x1b[2J\rcleared")
    dctl.start("zz", SLEEP, "302")
    cp = dctl("status", env={**dctl.env, "COLUMNS": "500"})
    assert_ok(cp)
    header, *rows = cp.stdout.splitlines()
    assert [r.split()[0] for r in rows] == ["esc", "nl", "zz"]
    assert rows[0].endswith("""/bin/sh -c 'exec sleep 301' $'\\e[2J\\rcleared'""")
    assert rows[1].endswith("""/bin/sh -c 'exec sleep 300' $'line\\nbreak' 'it'\\''s'""")
    assert cp.stdout.isascii() and "\x1b" not in cp.stdout and "\r" not in cp.stdout


def run_on_tty(argv: list[str], env: dict) -> str:
    """Run with stdout on a pseudo-terminal; return what it printed there."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(argv, stdout=follower, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=30)
    os.close(leader)
    return b"".join(chunks).decode()


def test_states_are_coloured_on_a_terminal_unless_no_color(dctl):
    dctl.start("web", SLEEP, "300")
    env = {k: v for k, v in dctl.env.items() if k != "NO_COLOR"}
    assert "\x1b[" in run_on_tty(dctl.argv("status"), env)
    assert "\x1b[" not in run_on_tty(dctl.argv("status"), {**env, "NO_COLOR": "1"})


def test_quiet_prints_no_messages_but_errors(dctl):
    cp = dctl("start", "-q", "-n", "web", SLEEP, "300")
    assert_ok(cp)
    dctl.track(dctl.pid("web"))
    assert cp.stdout == cp.stderr == ""
    assert dctl("-q", "stop", "web").stderr == ""
    cp = dctl("signal", "-q", "web", "HUP")
    assert cp.returncode == 7 and cp.stderr.startswith("daemonctl: error: ")


def test_messages_say_what_to_do_next(dctl):
    dctl.start("web", SLEEP, "300")
    assert_ok(dctl("stop", "web"))
    cp = dctl("signal", "web", "HUP")
    assert cp.stderr.strip() == "daemonctl: error: web is not running; start it with daemonctl start -n web"
    assert "daemonctl start -n web" in dctl("status", "web").stdout
