"""CONTRACT "Exit status": a pidfile holding no valid PID (0, -1, 1, garbage, empty,
daemonctl's own PID) must never turn into kill(0, ...), kill(-1, ...) or any signal.

daemonctl is run by a small wrapper W (in a session of its own) that catches the usual
signals and keeps a canary process in its process group: kill(0) would hit W and the
canary, kill(-1) every process of the user.  For the contents whose misuse could hurt
the rest of the machine (-1, 1, other negative numbers) daemonctl and the canary run as
user nobody (needs root and setpriv; those cases are skipped otherwise).
"""
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from .helpers import ERR_PREFIX, NOBODY, SLEEP

pytestmark = pytest.mark.integration

WRAPPER = r"""
import json, os, signal, subprocess, sys, time
dctl, state_dir, pidfile, content, mode, outdir, sleep = sys.argv[1:8]
prefix = sys.argv[8:]                              # e.g. setpriv ... to run as nobody
got = []
def on(num, frame):
    got.append(signal.Signals(num).name)
for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1,
          signal.SIGUSR2, signal.SIGALRM, signal.SIGCONT):
    signal.signal(s, on)
# the canary is in W's (and daemonctl's) process group
canary = subprocess.Popen(prefix + [sleep, "300"], stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
def write(text):
    with open(pidfile, "w") as f:
        f.write(text)
if content == "@caller":
    write(f"{os.getpid()}\n")
elif content != "@self":
    write(content)
args = [dctl, "--state-dir", state_dir, mode] + (["-t", "0.5"] if mode == "stop" else [])
args += ["-p", pidfile]
err = os.path.join(outdir, "stderr")
pid = os.fork()
if pid == 0:
    if content == "@self":                         # the PID daemonctl will have
        write(f"{os.getpid()}\n")
    fd = os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.execvp((prefix + args)[0], prefix + args)
_, status = os.waitpid(pid, 0)
canary_alive = canary.poll() is None
canary.kill()
canary.wait()
print(json.dumps({"rc": os.waitstatus_to_exitcode(status), "got": got,
                  "canary_alive": canary_alive, "stderr": open(err).read()}))
"""

DANGEROUS = {"-1\n", "1\n", "-5\n"}
CONTENTS = {
    "zero": "0\n",
    "minus-one": "-1\n",
    "one": "1\n",
    "negative": "-5\n",
    "garbage": "abc\n",
    "empty": "",
    "blank": " \n",
    "pid-and-junk": "123abc\n",
    "daemonctl-itself": "@self",
}


@pytest.fixture
def run_wrapper(dctl, tmp_path, request):
    outdir = Path(tempfile.mkdtemp(prefix="dctl-hostile-"))
    outdir.chmod(0o1777)  # sticky: a state directory inside one anyone may rename in is refused

    def run(content: str, mode: str) -> dict:
        dangerous = content in DANGEROUS
        # Skipped (a failure in CI) where daemonctl cannot run as nobody: unsafe as root.
        exe = request.getfixturevalue("nobody_daemonctl") if dangerous else dctl.exe
        argv = [sys.executable, "-c", WRAPPER, exe, str(outdir / "state"),
                str(outdir / "h.pid"), content, mode, str(outdir), SLEEP]
        if dangerous:
            argv += NOBODY
        cp = subprocess.run(argv, capture_output=True, text=True,
                            timeout=60, env=dctl.env, start_new_session=True,
                            stdin=subprocess.DEVNULL)
        assert cp.returncode == 0, f"wrapper died: rc={cp.returncode} {cp.stderr!r}"
        return json.loads(cp.stdout)

    yield run
    shutil.rmtree(outdir, ignore_errors=True)


@pytest.mark.parametrize("content", CONTENTS.values(), ids=CONTENTS.keys())
def test_stop_with_invalid_pidfile_signals_nothing(run_wrapper, content):
    res = run_wrapper(content, "stop")
    assert res["got"] == [], f"signals reached the caller: {res}"
    assert res["canary_alive"], f"the canary was killed: {res}"
    assert res["rc"] == 1, res
    assert "Traceback" not in res["stderr"]
    assert len([ln for ln in res["stderr"].splitlines() if ln.startswith(ERR_PREFIX)]) == 1, res


@pytest.mark.parametrize("content", CONTENTS.values(), ids=CONTENTS.keys())
def test_status_with_invalid_pidfile_is_unknown(run_wrapper, content):
    res = run_wrapper(content, "status")
    assert res["got"] == [] and res["canary_alive"], res
    assert res["rc"] == 4, res
    assert "Traceback" not in res["stderr"]


GROUP_WATCH = r"""
trap 'echo got-TERM' TERM
trap 'echo got-HUP' HUP
"$SLEEP" 300 &
canary=$!
"$@" 2>"$ERR"
echo "rc=$?"
kill -0 "$canary" 2>/dev/null && echo canary-alive
kill "$canary"
"""


@pytest.mark.parametrize(
    "cmd", [["stop", "-t", "0.5", "h"], ["restart", "-t", "0.5", "h"], ["signal", "h", "TERM"], ["status", "h"]]
)
def test_a_record_naming_pid_0_signals_nothing(dctl, tmp_path, cmd):
    """A record (not a pidfile) with pid 0: killpg(0) would hit the caller's own group.
    The wrapping shell and a canary share daemonctl's group, in a session of their own."""
    pid = dctl.start("h", SLEEP, "300")
    assert dctl("stop", "h").returncode == 0
    rec = dctl.record("h")
    rec.update(state="running", pid=0, starttime=0)
    dctl.recordfile("h").write_text(json.dumps(rec))
    err = tmp_path / "err"
    env = dict(dctl.env, SLEEP=SLEEP, ERR=str(err))
    out = subprocess.run(["sh", "-c", GROUP_WATCH, "sh", dctl.exe, "--state-dir", str(dctl.state_dir), *cmd],
                         capture_output=True, text=True, timeout=60, env=env, start_new_session=True).stdout.split()
    assert "got-TERM" not in out and "got-HUP" not in out and "canary-alive" in out, out
    assert out[0] == ("rc=4" if cmd[0] == "status" else "rc=1"), (out, err.read_text())
    assert "is corrupt: field pid must be an integer from 2 to " in err.read_text()
    assert pid not in dctl.token_pids()
