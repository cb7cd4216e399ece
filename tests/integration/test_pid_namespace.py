"""CONTRACT "stop": "A zombie that is only waiting to be reaped counts as gone."

Re-runs a selection of this suite inside a new PID namespace where pytest itself is
PID 1 and never reaps orphans: every daemon that ends stays a zombie, so stop, status
and the schedules must treat zombies as gone.  Needs root and a working
`unshare --pid --fork --mount-proc`; skipped otherwise, and inside the inner run."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import IN_PIDNS_VAR, SLEEP, alive, assert_ok, proc_stat, remove_cgroups

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent  # the project (rootdir with pyproject.toml)
SELECTION = ("test_stop or schedule or group or status or hostile or restart "
             "or signal or test_daemon_properties or test_respawn")
# Not re-run: this test itself, and the clients of daemonctl (a playbook run, an HTTP
# server) whose names match the words above but whose zombie handling is daemonctl's.
ELSEWHERE = "selection_passes or test_ansible or test_serve or dashboard"
UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc"]


def _skip_unless_possible():
    if os.environ.get(IN_PIDNS_VAR):
        pytest.skip("already inside the PID namespace")
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare")
    probe = subprocess.run(UNSHARE + ["true"], capture_output=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip(f"unshare --pid does not work here: {probe.stderr!r}")


@pytest.mark.timeout(900)  # a suite of its own (3 minutes on a calm machine): the default limit is one test's
def test_selection_passes_with_non_reaping_pid1(tmp_path):
    _skip_unless_possible()
    env = dict(os.environ, **{IN_PIDNS_VAR: "1"})
    cmd = UNSHARE + [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                     "--basetemp", str(tmp_path / "inner"), str(HERE),
                     "-k", f"({SELECTION} or inside_namespace) and not ({ELSEWHERE})"]
    try:
        cp = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=840)
    finally:
        # A re-run cut short never got to its own cleanup: the cgroups of its daemons would stay.
        for state in (tmp_path / "inner").glob("**/state*"):
            if state.is_dir():
                remove_cgroups(state)
    tail = "\n".join((cp.stdout + cp.stderr).splitlines()[-60:])
    assert cp.returncode == 0, f"inner run inside the PID namespace failed:\n{tail}"
    assert " passed" in cp.stdout, tail


def test_inside_namespace_stopped_daemon_is_zombie_and_stop_returns_0(dctl):
    """Runs only in the inner run (pytest is PID 1 there): checks the premise and the rule."""
    if not os.environ.get(IN_PIDNS_VAR) or os.getpid() != 1:
        pytest.skip("only meaningful inside the PID namespace re-run")
    pid = dctl.start("z", SLEEP, "300")
    assert proc_stat(pid)["ppid"] == 1
    assert_ok(dctl("stop", "-t", "5", "z"))
    st = proc_stat(pid)
    assert st is not None and st["state"] == "Z", "premise: nobody reaps the daemon here"
    assert not alive(pid)
    assert dctl("status", "z").returncode == 3
    assert_ok(dctl("start", "-n", "z"))
    assert alive(dctl.track(dctl.pid("z")))
