"""Issue 6, full disk and read-only places: commands that must write fail with exit 1 and
a clear message, commands that only read keep working, nothing recorded is damaged.

Needs root and mount (a small tmpfs, a read-only bind mount); skipped otherwise.
"""
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from .helpers import SLEEP, alive, assert_ok, assert_one_error

pytestmark = pytest.mark.integration


def mount(*args) -> bool:
    return subprocess.run(["mount", *args], capture_output=True, timeout=30).returncode == 0


@pytest.fixture
def mountpoint(request):
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("needs root and mount")
    d = Path(tempfile.mkdtemp(prefix="dctl-mnt-"))

    def cleanup():
        subprocess.run(["umount", "-l", str(d)], capture_output=True, timeout=30)
        shutil.rmtree(d, ignore_errors=True)

    request.addfinalizer(cleanup)
    return d


def fill(directory: Path) -> None:
    fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


def snapshot(state: Path) -> dict:
    return {p.name: p.read_bytes() for p in state.iterdir() if p.name.endswith((".json", ".pid"))}


def check_readers_work(d, name: str, pid: int) -> None:
    st = d("status", name)
    assert st.returncode == 0 and f"pid {pid}" in st.stdout, st
    assert_ok(d("status", "--json"))
    assert_ok(d("logs", name))


def test_full_disk(dctl, mountpoint):
    if not mount("-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs", str(mountpoint)):
        pytest.skip("cannot mount a tmpfs here")
    d = dctl.with_state_dir(mountpoint / "state")
    pid = d.start("a", "/bin/sh", "-c", "echo up; exec sleep 300")
    before = snapshot(d.state_dir)
    fill(mountpoint)
    cp = d("start", "-n", "b", SLEEP, "300")
    assert_one_error(cp, 1)
    assert "No space left" in cp.stderr
    assert not d.pidfile("b").exists() and not d.recordfile("b").exists()
    assert len(d.token_pids()) == 1
    cp = d("restart", "a")
    assert_one_error(cp, 1)
    assert alive(pid), "restart stopped the daemon although it could not start it again"
    check_readers_work(d, "a", pid)
    assert snapshot(d.state_dir) == before
    # stop still stops (a full disk is when one most wants to): removing the pidfile may
    # free the space the record needs; if not, the record is left whole and stop says so.
    cp = d("stop", "a")
    assert not alive(pid)
    if cp.returncode == 0:
        assert d.record("a")["state"] == "stopped"
    else:
        assert_one_error(cp, 1)
        assert "No space left" in cp.stderr
        assert d.recordfile("a").read_bytes() == before["a.json"], "the record was damaged"
    assert d("status", "a").returncode == 3
    assert [p for p in os.listdir(d.state_dir) if p.endswith(".tmp")] == []
    (mountpoint / "filler").unlink()
    d.start("a")


def test_read_only_state_dir(dctl, mountpoint):
    state = mountpoint / "state"
    d = dctl.with_state_dir(state)
    pid = d.start("a", "/bin/sh", "-c", "echo up; exec sleep 300")
    if not (mount("--bind", str(state), str(state)) and mount("-o", "remount,bind,ro", str(state))):
        pytest.skip("cannot make a read-only bind mount here")
    before = snapshot(state)
    for args in (["start", "-n", "b", SLEEP, "300"], ["start", "-n", "a"], ["stop", "a"],
                 ["restart", "a"], ["remove", "a"]):
        cp = d(*args)
        assert_one_error(cp, 1)
        assert "Read-only file system" in cp.stderr, cp.stderr
    assert alive(pid)
    check_readers_work(d, "a", pid)
    assert snapshot(state) == before
