"""The daemon's process is in its v2 cgroup before exec: born there (clone3), or joined by write.

clone3 is refused in places (a kernel before 5.7, container runtimes whose seccomp
profile answers ENOSYS); the fork-and-write path must then still place the process.
Both are run for real, each in a fresh interpreter, in a cgroup the test makes.
"""
from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from .helpers import PY, SLEEP, base_env, cgroups_usable, wait_for, wait_gone

pytestmark = pytest.mark.integration

SPAWN = textwrap.dedent("""
    import os, sys
    from daemonctl.proc.spawn import Launch, spawn
    cgroup, mode = sys.argv[1], sys.argv[2]
    out = os.open(os.devnull, os.O_WRONLY)
    launch = Launch(%r, [%r, "300"], dict(os.environ), "/", 0o22, out, out, cgroups=(cgroup,))
    identity = spawn(launch, clone=lambda path: None) if mode == "fork" else spawn(launch)
    print(identity.pid)
""") % (SLEEP, SLEEP)


@pytest.fixture
def cgroup():
    from daemonctl.proc import cgroupfs

    if not cgroups_usable():
        pytest.skip("needs root and a cgroup v2 hierarchy")
    v2 = cgroupfs.discover(cgroupfs.cgroup_root(os.environ)).v2
    path = Path(v2, "daemonctl", f"test-spawn-{os.getpid()}")
    path.mkdir(parents=True)
    yield path
    for pid in path.joinpath("cgroup.procs").read_text().split():
        os.kill(int(pid), 9)
    assert wait_for(lambda: "populated 0" in path.joinpath("cgroup.events").read_text(), timeout=10)
    path.rmdir()


@pytest.mark.parametrize("mode", ["clone", "fork"])
def test_the_program_runs_in_its_cgroup(cgroup: Path, mode: str) -> None:
    env = base_env()
    cp = subprocess.run([PY, "-c", SPAWN, str(cgroup), mode], env=env, capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    pid = int(cp.stdout)
    v2_line = next(line for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines() if line.startswith("0::"))
    assert Path(f"/proc/{pid}/exe").resolve() == Path(SLEEP).resolve()
    assert cgroup.as_posix().endswith(v2_line[3:])
    assert cgroup.joinpath("cgroup.procs").read_text().split() == [str(pid)]
    os.kill(pid, 9)
    assert wait_gone(pid)


MEANWHILE = textwrap.dedent("""
    import os, sys
    from daemonctl.proc.spawn import Launch, spawn
    marker, mode = sys.argv[1], sys.argv[2]
    out = os.open(os.devnull, os.O_WRONLY)
    launch = Launch("/bin/touch", ["touch", marker], dict(os.environ), "/", 0o22, out, out)
    def meanwhile():
        if mode == "fail":
            raise RuntimeError("the caller's own work failed")
    try:
        print(spawn(launch, meanwhile=meanwhile).pid)
    except RuntimeError as err:
        print(err)
""")


@pytest.mark.parametrize("mode", ["ok", "fail"])
def test_work_done_meanwhile_that_fails_means_no_exec(tmp_path: Path, mode: str) -> None:
    """spawn's `meanwhile` runs between the fork and the PID; if it raises, the program never runs."""
    marker = tmp_path / "ran"
    cp = subprocess.run([PY, "-c", MEANWHILE, str(marker), mode], env=base_env(), capture_output=True, text=True,
                        timeout=60)
    assert cp.returncode == 0, cp.stderr
    if mode == "ok":
        assert wait_for(marker.exists)
    else:
        assert cp.stdout == "the caller's own work failed\n"
        # The grandchild saw the report socket close without "go": it exits, never exec'ing.
        assert not wait_for(marker.exists, timeout=1.0)
