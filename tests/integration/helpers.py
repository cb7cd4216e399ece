"""Helpers shared by the daemonctl integration tests: constants, /proc readers, waits,
assertions on a run's output, and `Dctl`, which runs the installed console script with a
test's state directory. Test modules import them with ``from .helpers import ...``;
conftest.py holds the fixtures only.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .asnobody import NOBODY

NOBODY_UID = 65534  # user nobody, the unprivileged daemon user of the trust tests

TOKEN_VAR = "DAEMONCTL_ITEST_TOKEN"  # marks every process a test starts (inherited env)
IN_PIDNS_VAR = "DAEMONCTL_ITEST_IN_PIDNS"  # set for the re-run inside a PID namespace
CLK_TCK = os.sysconf("SC_CLK_TCK")
SLEEP = shutil.which("sleep") or "/bin/sleep"
SH = "/bin/sh"
PY = sys.executable
ERR_PREFIX = "daemonctl: error: "


# A Python daemon that prints the name of each TERM/HUP/USR1/USR2/INT it receives and
# exits on it, unless the name is in argv[1] (comma-separated) -- then it carries on.
SIGNAL_LOGGER = r"""
import signal, sys, time
survive = set(sys.argv[1].split(",")) if len(sys.argv) > 1 else set()
def on(num, frame):
    name = signal.Signals(num).name[3:]
    print(name, flush=True)
    if name not in survive:
        sys.exit(0)
for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGINT):
    signal.signal(s, on)
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""


# --------------------------------------------------------------------------- locate

def daemonctl_path() -> str | None:
    cand = Path(sys.executable).parent / "daemonctl"
    if cand.is_file() and os.access(cand, os.X_OK):
        return str(cand)
    return shutil.which("daemonctl")


def base_env() -> dict[str, str]:
    env = dict(os.environ)
    for var in ("PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "DAEMONCTL_STATE_DIR"):
        env.pop(var, None)
    return env


# --------------------------------------------------------------------------- /proc

def proc_stat(pid: int) -> dict | None:
    """Fields of /proc/PID/stat we care about, or None if the process does not exist."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = data[data.rindex(")") + 2:].split()  # rest[0] is field 3 (state)
    return {
        "state": rest[0],
        "ppid": int(rest[1]),
        "pgrp": int(rest[2]),
        "session": int(rest[3]),
        "tty_nr": int(rest[4]),
        "starttime": int(rest[19]),
    }


def alive(pid: int) -> bool:
    """True if PID exists and is not a zombie (a zombie is gone for our purposes)."""
    st = proc_stat(pid)
    return st is not None and st["state"] not in ("Z", "X")


def proc_status(pid: int) -> dict[str, str]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, val = line.partition(":")
        out[key] = val.strip()
    return out


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0")[:-1]]


def environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    env = {}
    for item in raw.split(b"\0"):
        k, sep, v = item.decode(errors="replace").partition("=")
        if sep:
            env[k] = v
    return env


def all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def live_pids_where(pred) -> list[int]:
    out = []
    for pid in all_pids():
        try:
            if alive(pid) and pred(pid):
                out.append(pid)
        except OSError:
            pass
    return out


def group_members(pgid: int) -> list[int]:
    return live_pids_where(lambda p: (proc_stat(p) or {}).get("pgrp") == pgid)


def ancestors(pid: int | None = None) -> list[int]:
    """PIDs of the strict ancestors of PID (default: this process)."""
    out, cur = [], os.getpid() if pid is None else pid
    while True:
        st = proc_stat(cur)
        if st is None or st["ppid"] <= 0:
            return out
        cur = st["ppid"]
        out.append(cur)


def now_ticks() -> int:
    return int(float(Path("/proc/uptime").read_text().split()[0]) * CLK_TCK)


def wait_for(pred, timeout: float = 10.0, interval: float = 0.02) -> bool:
    """Poll PRED until it is true or TIMEOUT expires; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        val = pred()
        if val or time.monotonic() >= deadline:
            return val
        time.sleep(interval)


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    return wait_for(lambda: not alive(pid), timeout)


def read_pidfile(path: Path) -> int:
    text = Path(path).read_text()
    assert text.endswith("\n") and text.strip().isdigit(), f"pidfile {path} holds {text!r}"
    return int(text)


def log_lines(path: Path) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except FileNotFoundError:
        return []


def error_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith(ERR_PREFIX)]


def assert_one_error(cp: subprocess.CompletedProcess, code: int, *, only_line: bool = False):
    """CP failed with CODE, printed exactly one `daemonctl: error:` line and no traceback."""
    msg = f"args={cp.args!r}\nrc={cp.returncode}\nstdout={cp.stdout!r}\nstderr={cp.stderr!r}"
    assert cp.returncode == code, msg
    assert "Traceback" not in cp.stderr, msg
    assert len(error_lines(cp.stderr)) == 1, msg
    if only_line:
        assert len(cp.stderr.strip().splitlines()) == 1, msg


def assert_ok(cp: subprocess.CompletedProcess, code: int = 0):
    assert cp.returncode == code, (
        f"args={cp.args!r}\nrc={cp.returncode}\nstdout={cp.stdout!r}\nstderr={cp.stderr!r}")
    assert "Traceback" not in cp.stderr, cp.stderr



# --------------------------------------------------------------------------- running daemonctl

class Dctl:
    """Runs the installed daemonctl with the test's state directory."""

    def __init__(self, exe: str, state_dir: Path, token: str, tracked: list):
        self.exe = exe
        self.state_dir = state_dir
        self.token = token
        self.tracked = tracked          # PIDs and Popen objects killed at teardown
        self.extra_state_dirs: list[Path] = []
        self.nobody_exe: str | None = None  # from the nobody_daemonctl fixture, for nobody_argv
        self.env = base_env()
        self.env[TOKEN_VAR] = token

    def with_state_dir(self, path: Path) -> Dctl:
        """Another view on daemonctl with a different state dir, cleaned up the same way."""
        other = Dctl(self.exe, Path(path), self.token, self.tracked)
        other.extra_state_dirs = self.extra_state_dirs
        other.nobody_exe = self.nobody_exe
        self.extra_state_dirs.append(Path(path))
        return other

    def argv(self, *args, state_dir: Path | None = None) -> list[str]:
        return [self.exe, "--state-dir", str(state_dir or self.state_dir), *map(str, args)]

    def nobody_argv(self, *args, state_dir: Path | None = None) -> list[str]:
        """The argv that runs daemonctl as user nobody (set nobody_exe from nobody_daemonctl first)."""
        assert self.nobody_exe, "nobody_exe is unset: use the nobody_daemonctl fixture"
        return NOBODY + [self.nobody_exe, *self.argv(*args, state_dir=state_dir)[1:]]

    def __call__(self, *args, timeout: float = 30, state_dir: Path | None = None,
                 env: dict | None = None, **kw) -> subprocess.CompletedProcess:
        kw.setdefault("stdin", subprocess.DEVNULL)
        try:
            return subprocess.run(self.argv(*args, state_dir=state_dir), capture_output=True,
                                  text=True, timeout=timeout, env=env or self.env, **kw)
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"daemonctl {list(args)} did not finish within {timeout}s: {exc}")

    def popen(self, *args, **kw) -> subprocess.Popen:
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("env", self.env)
        p = subprocess.Popen(self.argv(*args), **kw)
        self.tracked.append(p)
        return p

    # -- paths
    def pidfile(self, name: str) -> Path:
        return self.state_dir / f"{name}.pid"

    def recordfile(self, name: str) -> Path:
        return self.state_dir / f"{name}.json"

    def logfile(self, name: str) -> Path:
        return self.state_dir / f"{name}.log"

    def record(self, name: str) -> dict:
        return json.loads(self.recordfile(name).read_text())

    def pid(self, name: str) -> int:
        return read_pidfile(self.pidfile(name))

    # -- common operations
    def start(self, name: str, *program, opts=(), pidfile: Path | None = None, **kw) -> int:
        """`start -n NAME OPTS PROGRAM...`, must succeed; returns (and tracks) the PID."""
        args = ["start", "-n", name, *opts]
        if pidfile is not None:
            args += ["-p", pidfile]
        cp = self(*args, *program, **kw)
        assert_ok(cp)
        pid = read_pidfile(pidfile or self.pidfile(name))
        self.track(pid)
        return pid

    def start_logger(self, name: str, survive: str = "", opts=()) -> int:
        """Start SIGNAL_LOGGER as NAME and wait until its handlers are installed."""
        pid = self.start(name, PY, "-c", SIGNAL_LOGGER, survive, opts=opts)
        assert wait_for(lambda: "ready" in log_lines(self.logfile(name))), "logger not ready"
        return pid

    def track(self, pid_or_popen):
        self.tracked.append(pid_or_popen)
        return pid_or_popen

    def spawn(self, *argv, **kw) -> subprocess.Popen:
        """A helper process of the test itself (canary etc.), killed at teardown."""
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("env", self.env)
        return self.track(subprocess.Popen(list(map(str, argv)), **kw))

    def token_pids(self) -> list[int]:
        """Live processes (other than ourselves) carrying this test's token."""
        me = os.getpid()
        return live_pids_where(lambda p: p != me and environ(p).get(TOKEN_VAR) == self.token)


def listen_code(port: int, delay: float = 0.0) -> str:
    """Python code that listens on reserved PORT (after DELAY seconds) and then sleeps."""
    return ("import socket, time\n"
            f"time.sleep({delay})\n"
            "s = socket.socket()\n"
            "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)\n"
            f"s.bind(('127.0.0.1', {port}))\n"
            "s.listen()\n"
            "time.sleep(300)\n")



def pids_from_state(dirs: list[Path], since_ticks: int) -> set[int]:
    pids, pidfiles = set(), set()
    for d in dirs:
        if not d.is_dir():
            continue
        pidfiles.update(d.glob("*.pid"))
        for rec in d.glob("*.json"):
            if not rec.is_file():  # a FIFO planted as a record would block the read
                continue
            try:
                data = json.loads(rec.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(data, dict):
                for key in ("pid", "supervisor_pid"):
                    if isinstance(data.get(key), int):
                        pids.add(data[key])
                if isinstance(data.get("pidfile"), str):
                    pidfiles.add(Path(data["pidfile"]))
    for pf in pidfiles:
        try:
            pids.add(int(Path(pf).read_text().strip()))
        except (OSError, ValueError):
            pass
    # Only processes started during this test: pidfiles may hold hostile PIDs.
    return {p for p in pids
            if p > 1 and (proc_stat(p) or {"starttime": -1})["starttime"] >= since_ticks}



# --------------------------------------------------------------------------- as nobody



def require_nobody(exe: str) -> None:
    """Skip unless user nobody can run EXE. Prefer the nobody_daemonctl fixture: it runs from
    any checkout, where this skips (and fails in CI) for a checkout nobody cannot enter."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run daemonctl as another user")
    probe = subprocess.run(NOBODY + [exe, "--version"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip(f"daemonctl cannot run as nobody here: {probe.stderr.strip()[-120:]}")


# --------------------------------------------------------------------------- cgroups

def cgroups_of(state_dir: Path) -> list[Path]:
    """Every cgroup daemonctl made for the daemons of STATE_DIR (v2 and v1) that still exists: named
    with its tag, or named by one of its records (a daemon started where STATE_DIR was mounted
    elsewhere, as test_readme_examples' boxes do)."""
    from daemonctl.proc import cgroupfs, containment

    tag = containment.cgroup_name(str(state_dir), "x").partition(".")[0]
    layout = cgroupfs.discover(cgroupfs.cgroup_root(os.environ))
    own = cgroupfs.own_cgroups() or {}
    bases = [Path(layout.v2, containment.SUBTREE)] if layout.v2 else []
    bases += [Path(os.path.normpath(f"{mount}/{own.get(c, '/')}"), containment.SUBTREE) for c, mount in layout.v1.items()]
    found = {p for base in bases for p in base.glob(f"{tag}.*")}
    for rec in Path(state_dir).glob("*.json") if Path(state_dir).is_dir() else []:
        try:
            data = json.loads(rec.read_text()) if rec.is_file() else {}
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            named = [data.get("cgroup"), *(data.get("cgroup_v1") or [])]
            found |= {Path(p) for p in named if isinstance(p, str) and Path(p).parent.name == containment.SUBTREE}
    return sorted(p for p in found if p.is_dir())


def cgroups_usable() -> bool:
    """Does daemonctl, run by this process (root), put daemons in cgroups here?"""
    from daemonctl.proc import cgroupfs

    return os.geteuid() == 0 and cgroupfs.discover(cgroupfs.cgroup_root(os.environ)).v2 is not None


def remove_cgroups(state_dir: Path) -> list[str]:
    """Kill what is left in STATE_DIR's cgroups and remove them; the ones that would not go."""
    left = []
    for top in cgroups_of(state_dir):
        kill = top / "cgroup.kill"
        if kill.exists():
            kill.write_text("1")
            wait_for(lambda t=top: "populated 0" in (t / "cgroup.events").read_text(), timeout=5)
        for d in sorted((Path(p) for p, _, _ in os.walk(top)), key=lambda p: -len(p.parts)):
            try:
                d.rmdir()
            except FileNotFoundError:
                pass
            except OSError as err:
                left.append(f"{d}: {err.strerror}")
    return left


# logrotate's `compress` + `delaycompress`: LOG.1 stays plain, LOG.2.gz, LOG.3.gz ... -----------

LOGROTATE = shutil.which("logrotate") or shutil.which("logrotate", path="/usr/sbin:/sbin")

# Three numbered lines for each USR1, through its stdout (copytruncate rotates under it).
BATCHES = """
import signal, sys, time
batch = 0
def more(num, frame):
    global batch
    batch += 1
    for k in range(1, 4):
        print(f"b{batch}.{k}", flush=True)
signal.signal(signal.SIGUSR1, more)
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""


def compressed_rotations(dctl, tmp_path, names, rounds=4):
    """Each round: a batch of lines from every daemon, then a forced rotation with compress + delaycompress."""
    if LOGROTATE is None:
        pytest.skip("logrotate is not installed (make tools installs it)")
    logs = [dctl.logfile(name) for name in names]
    conf = tmp_path / "logrotate.conf"
    conf.write_text(f"{' '.join(map(str, logs))} {{\n  rotate 50\n  copytruncate\n  compress\n  delaycompress\n}}\n")
    for name, log in zip(names, logs, strict=True):
        assert wait_for(lambda log=log: "ready" in log_lines(log)), name
    for r in range(1, rounds + 1):
        for name, log in zip(names, logs, strict=True):
            assert_ok(dctl("signal", name, "USR1"))
            assert wait_for(lambda log=log, r=r: f"b{r}.3" in log_lines(log)), (name, log_lines(log))
        cp = subprocess.run([LOGROTATE, "-f", "-s", str(tmp_path / "logrotate.state"), str(conf)],
                            capture_output=True, text=True, timeout=60)
        assert_ok(cp)
    for name in names:
        assert_ok(dctl("signal", name, "USR1"))  # one batch in the live log too
        assert wait_for(lambda name=name: f"b{rounds + 1}.3" in log_lines(dctl.logfile(name))), name
    for log in logs:
        assert sorted(p.name[len(log.name):] for p in log.parent.glob(f"{log.name}.*")) == [
            ".1", *(f".{n}.gz" for n in range(2, rounds + 1))]
    return ["ready", *(f"b{r}.{k}" for r in range(1, rounds + 2) for k in range(1, 4))]
