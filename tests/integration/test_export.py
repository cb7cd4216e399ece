"""export: the unit and the section describe the same daemon, and the real tools accept them."""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import PY, assert_ok, assert_one_error, wait_for

pytestmark = pytest.mark.integration

# Writes what it was given (argv, environment, directory, umask) to argv[1], then waits.
REPORTER = r"""
import json, os, sys, time
mask = os.umask(0); os.umask(mask)
env = {k: v for k, v in os.environ.items() if k.startswith("X_")}
with open(sys.argv[1] + ".tmp", "w") as f:
    json.dump({"argv": sys.argv[1:], "env": env, "cwd": os.getcwd(), "umask": mask}, f)
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
print("reporter up", flush=True)
while True:
    time.sleep(0.1)
"""
NASTY = ["two words", "$HOME", "50%", ";", "#x", "it's", 'say "hi"', "back\\slash", ""]


def read_report(path: Path) -> dict:
    assert wait_for(path.exists, timeout=20), f"the program never wrote {path}"
    return json.loads(path.read_text())


@pytest.fixture
def exported(dctl, tmp_path):
    """A reporter daemon started by daemonctl with every start option, and what it saw."""
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "env").write_text('X_FROM_FILE="file value"\n# comment\nX_BOTH=file\n')
    script = tmp_path / "reporter.py"
    script.write_text(REPORTER)
    report = tmp_path / "report.json"
    dctl.start("rep", PY, script, report, *NASTY, opts=[
        "-d", work, "--umask", "027", "--env", "X_SPACE=a b", "--env", "X_BOTH=cli",
        "--env-file", tmp_path / "env"])
    seen = read_report(report)
    assert_ok(dctl("stop", "rep"))
    report.unlink()
    return seen, report


def test_systemd_unit_passes_systemd_analyze_verify(dctl, tmp_path, exported):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    cp = dctl("export", "systemd", "rep")
    assert_ok(cp)
    unit = tmp_path / "rep.service"
    unit.write_text(cp.stdout)
    check = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0 and check.stderr == "", check.stderr
    assert f"WorkingDirectory={tmp_path}/work" in cp.stdout and "UMask=0027" in cp.stdout
    assert f"StandardOutput=append:{dctl.logfile('rep')}" in cp.stdout


def supervisord() -> str:
    exe = Path(sys.executable).parent / "supervisord"
    return str(exe) if exe.exists() else (shutil.which("supervisord") or pytest.skip("no supervisord"))


def test_supervisord_runs_the_exported_program_as_daemonctl_did(dctl, tmp_path, exported):
    seen, report = exported
    cp = dctl("export", "supervisor", "rep")
    assert_ok(cp)
    conf = tmp_path / "supervisord.conf"
    conf.write_text(
        f"[supervisord]\nnodaemon=true\nlogfile={tmp_path}/supervisord.log\n"
        f"pidfile={tmp_path}/supervisord.pid\nchildlogdir={tmp_path}\n\n{cp.stdout}")
    sup = dctl.spawn(supervisord(), "-c", conf, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        again = read_report(report)
    finally:
        sup.send_signal(signal.SIGTERM)
        sup.wait(timeout=30)
    assert again["argv"] == seen["argv"] and again["argv"][1:] == NASTY
    assert again["env"] == seen["env"] == {"X_FROM_FILE": "file value", "X_BOTH": "cli", "X_SPACE": "a b"}
    assert again["cwd"] == seen["cwd"] and again["umask"] == seen["umask"] == 0o027
    assert dctl.logfile("rep").read_text().count("reporter up") == 2  # same log, appended


def test_export_of_an_unknown_daemon_is_bad_usage(dctl):
    assert_one_error(dctl("export", "systemd", "nothing"), 2, only_line=True)
    assert not dctl.state_dir.exists() or not any(dctl.state_dir.iterdir())
