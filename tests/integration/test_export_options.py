"""export, option by option: systemd-analyze verify accepts the unit, a real supervisord runs the
section with what daemonctl gave the program, and what a format cannot express is a comment in
the output and a warning on stderr (issue 11, defect 10)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import pytest

from .helpers import wait_for

pytestmark = pytest.mark.integration

# Debian's system Python: `nobody` cannot run the venv's (it lives under /root).
SYSPY = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable

# Says who it runs as, gets ready every way daemonctl can check, and waits.
REPORTER = r"""
import json, os, socket, sys, time
ready_file, port = sys.argv[1], int(sys.argv[2])
if port:
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # see reserved_port
    s.bind(("127.0.0.1", port)); s.listen()
mask = os.umask(0); os.umask(mask)
nice = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[16])
report = {"argv": sys.argv[1:], "uid": os.getuid(), "gid": os.getgid(), "groups": sorted(os.getgroups()),
          "nice": nice, "umask": mask, "cwd": os.getcwd(),
          "env": {k: v for k, v in os.environ.items() if k.startswith("X_")}}
report["pid"] = os.getpid()
for out in (sys.stdout, sys.stderr):  # one may be discarded (-o /dev/null, stdout_logfile=NONE)
    print("REPORT " + json.dumps(report), file=out, flush=True)
if ready_file != "-":
    open(ready_file, "w").close()
if os.environ.get("NOTIFY_SOCKET"):
    n = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    addr = os.environ["NOTIFY_SOCKET"]
    n.sendto(b"READY=1", "\0" + addr[1:] if addr.startswith("@") else addr)
while True:
    time.sleep(0.2)
"""

QUICK_STOP = ["--schedule", "TERM/5/KILL/5"]  # no signal in between: nothing to warn about


@pytest.fixture(scope="module")
def reporter():
    """The reporter as a file that any user may run (supervisord's command is one line)."""
    import tempfile
    where = Path(tempfile.mkdtemp(prefix="dctl-reporter-"))
    try:
        where.chmod(0o755)
        (where / "reporter.py").write_text(REPORTER)
        (where / "reporter.py").chmod(0o644)
        yield where / "reporter.py"
    finally:
        shutil.rmtree(where)


def reports(path: Path) -> list[dict]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    runs = {}  # by PID: a run reports on stdout and stderr, which may be one file
    for line in text.splitlines():
        if line.startswith("REPORT "):
            report = json.loads(line[7:])
            runs[report.pop("pid")] = report
    return list(runs.values())


def has_user(name: str) -> bool:
    import pwd
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


# Each case: start options (with {tmp}, {port} filled in); unit lines; section lines; the options
# (as the warning names them) each format must say it leaves out; what supervisord cannot match.
CASES = {
    "plain": ([], ["Type=exec", "Restart=no"], ["autorestart=false", "startsecs=0"], [], [], set()),
    "pidfile": (["-p", "{tmp}/other.pid"], [], [], ["-p {tmp}/other.pid"], ["-p {tmp}/other.pid"], set()),
    "logs": (["-o", "{tmp}/out.log", "-e", "{tmp}/err.log"],
             ["StandardOutput=append:{tmp}/out.log", "StandardError=append:{tmp}/err.log"],
             ["stdout_logfile={tmp}/out.log", "stderr_logfile={tmp}/err.log"], [], [], set()),
    "devnull": (["-o", "/dev/null", "-e", "{tmp}/err.log"], ["StandardOutput=null"],
                ["stdout_logfile=NONE"], [], [], set()),
    "dir-umask-env": (["-d", "{tmp}", "--umask", "027", "--env", "X_A=a b", "--env-file", "{tmp}/env"],
                      ["WorkingDirectory={tmp}", "UMask=0027", 'Environment="X_A=a b"', "EnvironmentFile={tmp}/env"],
                      ["directory={tmp}", "umask=027"], [], [], set()),
    "wait": (["--wait", "1"], ["Type=exec"], ["startsecs=1"], ["--wait 1"], [], set()),
    "respawn": (["--respawn", "--restart-delay", "2", "--max-restarts", "3", "--min-uptime", "1"],
                ["Restart=on-failure", "RestartSec=2", "StartLimitBurst=4"],
                ["autorestart=unexpected", "startsecs=1", "startretries=3"],
                ["--restart-delay-max 60"], ["--restart-delay 2"], set()),
    "respawn-always": (["--respawn=always", "--restart-delay-max", "1"], ["Restart=always", "RestartSec=1"],
                       ["autorestart=true"], [], ["--restart-delay 1"], set()),
    "ready-file": (["--ready-file", "{tmp}/ready"], [], [], ["--ready-file {tmp}/ready"],
                   ["--ready-file {tmp}/ready"], set()),
    "ready-port": (["--ready-port", "{port}"], [], [], ["--ready-port {port}"], ["--ready-port {port}"], set()),
    "ready-log": (["--ready-log", "^REPORT"], [], [], ["--ready-log ^REPORT"], ["--ready-log ^REPORT"], set()),
    "notify": (["--notify", "--ready-timeout", "20"], ["Type=notify", "TimeoutStartSec=20"], [], [],
               ["--notify"], set()),
    # Not nobody: systemd-analyze warns that running as nobody is unsafe. (No "group" in the case
    # names: the PID-namespace re-run selects tests by that word.)
    "user": (["-u", "daemon"], ["User=daemon"], ["user=daemon"], [], [], set()),
    "user-and-own-gid": (["-u", "daemon:daemon"], ["User=daemon", "Group=daemon"], ["user=daemon"], [], [], set()),
    "user-and-other-gid": (["-u", "daemon:adm"], ["User=daemon", "Group=adm"], ["user=daemon"], [],
                         ["group adm"], {"gid", "groups"}),
    "gid-only": (["-g", "adm"], ["Group=adm"], [], [], ["group adm"], {"gid", "groups"}),
    "nice": (["--nice", "5"], ["Nice=5"], [], [], [], set()),
    "nice-negative": (["--nice", "-5"], ["Nice=-5"], [], [], [], set()),
    "user-nice-negative": (["-u", "daemon", "--nice", "-3"], ["User=daemon", "Nice=-3"], ["user=daemon"], [],
                           ["--nice -3"], {"nice"}),
}


def warnings_of(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith("daemonctl: warning: ")]


def assert_left_out(cp: subprocess.CompletedProcess, kind: str, mark: str, expected: list[str]) -> None:
    """Exactly the expected options are named, each in a comment and in a warning line."""
    assert cp.returncode == 0, cp.stderr
    warned = warnings_of(cp.stderr)
    assert len(warned) == len(expected) and cp.stderr.count("\n") == len(expected), cp.stderr
    for option in expected:
        assert any(w.startswith(f"daemonctl: warning: {kind} export of x leaves out {option}") for w in warned), warned
        assert f"{mark} not exported: {option}" in cp.stdout, cp.stdout


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_start_option_exports_or_is_said(dctl, tmp_path, reporter, reserved_port, case):
    opts, unit_lines, section_lines, systemd_out, supervisor_out, differs = CASES[case]
    if os.geteuid() != 0 and any(o in opts for o in ("-u", "-g", "--nice")):
        pytest.skip("--user, --group and a lower niceness need root")
    if any(o.startswith("daemon") for o in opts) and not has_user("daemon"):
        pytest.skip("no user daemon")
    port = reserved_port if case == "ready-port" else 0
    fill = {"tmp": tmp_path, "port": port}
    opts = [o.format(**fill) for o in opts]
    (tmp_path / "env").write_text("X_FILE=from file\n")
    out = next((Path(o) for prev, o in pairwise(opts) if prev == "-o" and o != "/dev/null"), None)
    err = next((Path(o) for prev, o in pairwise(opts) if prev == "-e"), None)
    log = out or err or dctl.logfile("x")
    ready_file = str(tmp_path / "ready") if case == "ready-file" else "-"
    pidfile = Path(opts[opts.index("-p") + 1]) if "-p" in opts else None
    dctl.start("x", SYSPY, reporter, ready_file, str(port), opts=[o for o in opts if o != "-p" and Path(o) != pidfile],
               pidfile=pidfile)
    assert wait_for(lambda: len(reports(log)) == 1, timeout=20), log
    (seen,) = reports(log)
    assert dctl("stop", "x").returncode == 0
    Path(ready_file).unlink(missing_ok=True)

    unit = dctl("export", "-q", "systemd", "x", *QUICK_STOP)  # -q does not hide what is left out
    assert_left_out(unit, "systemd", "#", [o.format(**fill) for o in systemd_out])
    for line in unit_lines:
        assert line.format(**fill) in unit.stdout.splitlines(), unit.stdout
    verify_unit(tmp_path, unit.stdout)

    section = dctl("export", "supervisor", "x", *QUICK_STOP)
    assert_left_out(section, "supervisor", ";", [o.format(**fill) for o in supervisor_out])
    for line in section_lines:
        assert line.format(**fill) in section.stdout.splitlines(), section.stdout
    again = run_under_supervisord(dctl, tmp_path, section.stdout, log)
    if "nice" in seen and os.getpriority(os.PRIO_PROCESS, 0) != 0:
        differs = differs | {"nice"}  # nice(1) adds to supervisord's niceness, ours here
    for key in seen:
        if key not in differs:
            assert again[key] == seen[key], (key, again, seen)


def verify_unit(tmp_path: Path, text: str) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd; make tools)")
    path = tmp_path / "x.service"
    path.write_text(text)
    check = subprocess.run(["systemd-analyze", "verify", "--man=no", str(path)],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0 and check.stderr == "", check.stderr


def supervisord() -> str:
    exe = Path(sys.executable).parent / "supervisord"
    return str(exe) if exe.exists() else (shutil.which("supervisord") or pytest.skip("no supervisord"))


def run_under_supervisord(dctl, tmp_path: Path, section: str, log: Path) -> dict:
    """Run the section in a real supervisord until the program reports, and return the report."""
    conf = tmp_path / "supervisord.conf"
    conf.write_text(
        f"[supervisord]\nnodaemon=true\nlogfile={tmp_path}/supervisord.log\n"
        f"pidfile={tmp_path}/supervisord.pid\nchildlogdir={tmp_path}\n\n{section}")
    sup = dctl.spawn(supervisord(), "-c", conf, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: len(reports(log)) == 2 or sup.poll() is not None, timeout=30)
    finally:
        if sup.poll() is None:
            sup.send_signal(signal.SIGTERM)
        sup.wait(timeout=30)
    said = (tmp_path / "supervisord.log").read_text() + sup.stdout.read().decode()
    assert len(reports(log)) == 2, f"the program never ran under supervisord: {said[-2000:]}"
    return reports(log)[1]
