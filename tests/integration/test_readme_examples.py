"""The README's init script and cron line, run as written (extracted from README.md, so they
cannot drift), with the paths they name: each runs in a mount and network namespace of its
own where /run, /var/log, /var/lib, /usr/sbin and /usr/local/bin are the test's directories."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from .helpers import SLEEP, TOKEN_VAR, alive, assert_ok, read_pidfile, wait_for, wait_gone

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()

# What init (sysvinit's rc) and cron give the scripts and jobs they run.
INIT_PATH = "/sbin:/usr/sbin:/bin:/usr/bin"
CRON_ENV = {"PATH": "/usr/bin:/bin", "SHELL": "/bin/sh", "HOME": "/root", "LOGNAME": "root"}

FAKE_MYDB = r"""#!/usr/bin/python3
import signal, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 5433))
s.listen()
signal.signal(signal.SIGHUP, lambda *_: print("reloaded", flush=True))
print("mydb up", *sys.argv[1:], flush=True)
while True:
    signal.pause()
"""


def section_block(title: str, lang: str) -> str:
    """The first ```LANG block after the README heading TITLE."""
    after = README[README.index(title):]
    match = re.search(rf"```{lang}\n(.*?)```", after, re.S)
    assert match, f"no {lang} block under {title!r} in README.md"
    return match.group(1)


def init_script() -> str:
    return section_block("### From an init script", "sh")


def cron_command() -> str:
    (line,) = [ln for ln in section_block("### From cron", "cron").splitlines() if ln.strip() and not ln.startswith("#")]
    command = line.split(None, 5)[5]
    assert "%" not in command  # cron would turn it into a newline
    return command


def man_examples() -> list[str]:
    """The .EX blocks of the man page, as the reader sees them (roff escapes undone)."""
    page = (ROOT / "man" / "daemonctl.1").read_text()
    blocks = re.findall(r"^\.EX\n(.*?)^\.EE$", page, re.S | re.M)
    return [b.replace("\\-", "-").replace("\\e", "\\").replace("\\&", "") for b in blocks]


def test_the_man_page_shows_the_same_init_script_and_cron_line():
    examples = man_examples()
    assert init_script() in examples
    assert any(cron_command() in example for example in examples)


class Box:
    """A mount and network namespace per command, with the system paths on test directories."""

    def __init__(self, tmp_path: Path, state: Path, daemonctl: str, token: str):
        if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
            pytest.skip("needs root, unshare and ip to give the example its system paths")
        self.root = tmp_path / "box"
        self.state, self.token = state, token
        self.dirs = {d: self.root / d.strip("/").replace("/", "-") for d in
                     ("/run", "/var/log", "/var/lib", "/usr/sbin", "/usr/local/bin")}
        for d in self.dirs.values():
            d.mkdir(parents=True)
            d.chmod(0o755)
        (self.dirs["/var/lib"] / "daemonctl").mkdir()
        (self.dirs["/var/lib"] / "mydb").mkdir()
        state.mkdir(mode=0o700, exist_ok=True)
        (self.dirs["/usr/local/bin"] / "daemonctl").symlink_to(daemonctl)
        mydb = self.dirs["/usr/sbin"] / "mydb"
        mydb.write_text(FAKE_MYDB)
        mydb.chmod(0o755)
        probe = subprocess.run(["unshare", "--mount", "--net", "true"], capture_output=True, timeout=30)
        if probe.returncode != 0:
            pytest.skip(f"unshare --mount --net does not work here: {probe.stderr!r}")

    def path(self, system_path: str) -> Path:
        """Where a file the example names really is."""
        for d, real in self.dirs.items():
            if system_path.startswith(d + "/"):
                return real / system_path[len(d) + 1:]
        raise ValueError(system_path)

    def run(self, argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
        binds = "".join(f'mount --bind "{real}" "{d}"\n' for d, real in self.dirs.items())
        setup = f'set -e\nip link set lo up\n{binds}mount --bind "{self.state}" /var/lib/daemonctl\nexec "$@"\n'
        return subprocess.run(["unshare", "--mount", "--net", "/bin/sh", "-c", setup, "sh", *argv],
                              env={**env, TOKEN_VAR: self.token}, capture_output=True, text=True, timeout=120)


@pytest.fixture
def box(dctl, tmp_path) -> Box:
    return Box(tmp_path, dctl.state_dir, dctl.exe, dctl.token)


def test_the_init_script_as_written_gives_every_lsb_exit_code(box, tmp_path, dctl):
    script = tmp_path / "mydb"
    script.write_text(init_script())
    script.chmod(0o755)
    pidfile, log = box.path("/run/mydb.pid"), box.path("/var/log/mydb.log")

    def action(name: str, script: Path = script) -> int:
        cp = box.run([str(script), name], {"PATH": INIT_PATH})
        assert "Traceback" not in cp.stderr, cp.stderr
        return cp.returncode

    def running_pid() -> int:
        pid = read_pidfile(pidfile)
        dctl.track(pid)
        assert alive(pid)
        return pid

    assert action("restart") == 0  # before any start: it starts it
    first = running_pid()
    assert action("start") == 0 and running_pid() == first
    assert action("status") == 0
    assert action("reload") == 0
    assert wait_for(lambda: log.read_text().count("reloaded") == 1)
    assert action("force-reload") == 0
    assert wait_for(lambda: log.read_text().count("reloaded") == 2)

    # An edited command line takes effect at the next restart.
    edited = tmp_path / "mydb-edited"
    edited.write_text(init_script().replace("--config /etc/mydb.conf", "--config /etc/mydb-new.conf"))
    edited.chmod(0o755)
    assert action("restart", edited) == 0
    second = running_pid()
    assert second != first and wait_gone(first)
    assert Path(f"/proc/{second}/cmdline").read_bytes().split(b"\0")[-2] == b"/etc/mydb-new.conf"
    assert os.readlink(f"/proc/{second}/cwd") == "/var/lib/mydb"  # as its mount namespace names it

    assert action("stop") == 0 and wait_gone(second)
    assert action("status") == 3
    assert action("stop") == 0
    assert action("reload") == 7 and action("force-reload") == 7
    assert action("restart") == 0  # when stopped: it starts it
    third = running_pid()
    os.kill(third, signal.SIGKILL)
    assert wait_gone(third)
    assert action("status") == 1  # dead, its pidfile left
    assert action("stop") == 0
    assert action("bogus") == 2
    box.path("/usr/sbin/mydb").unlink()
    assert action("start") == 5


def test_the_cron_line_as_written_brings_the_worker_back_with_crons_environment(box, dctl):
    command = cron_command()
    worker = dctl.start("worker", SLEEP, "300")  # as started from a shell, in the state dir cron uses
    assert_ok(dctl("stop", "worker"))
    assert wait_gone(worker)

    def cron_run() -> subprocess.CompletedProcess:
        cp = box.run(["/bin/sh", "-c", command], CRON_ENV)
        assert cp.returncode == 0, (cp.returncode, cp.stderr)
        return cp

    cron_run()  # stopped: started again from its record
    again = dctl.track(dctl.pid("worker"))
    assert alive(again) and again != worker
    os.kill(again, signal.SIGKILL)  # dead: started again
    assert wait_gone(again)
    cron_run()
    third = dctl.track(dctl.pid("worker"))
    assert alive(third) and third != again
    assert cron_run().stdout == "" and dctl.pid("worker") == third  # running: nothing to do
    assert_ok(dctl("stop", "worker"))
