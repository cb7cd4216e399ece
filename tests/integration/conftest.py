"""Fixtures of the daemonctl integration tests.

The tests drive the *installed* console script against real processes and inspect
the results through /proc.  Every test gets its own state directory, and an autouse
fixture SIGKILLs everything a test may have started, so nothing outlives a test.

The helpers (constants, /proc readers, waits, assertions, `Dctl`) live in helpers.py;
test modules import them with ``from .helpers import ...``.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# nobody_daemonctl: a fixture, the path of a daemonctl that user nobody can run from any
# checkout; nobody_checkout: a copy of the checkout that nobody can read (see asnobody.py).
from .asnobody import nobody_checkout, nobody_daemonctl  # noqa: F401
from .helpers import (
    CLK_TCK,
    NOBODY_UID,
    Dctl,
    ancestors,
    daemonctl_path,
    now_ticks,
    pids_from_state,
    proc_stat,
    remove_cgroups,
    wait_gone,
)


@pytest.fixture(scope="session")
def daemonctl_exe() -> str:
    exe = daemonctl_path()
    if exe is None:
        pytest.fail("the daemonctl console script is not installed (run `make venv`)")
    return exe


@pytest.fixture
def reserved_port() -> Iterator[int]:
    """A TCP port of 127.0.0.1 held for the test, for a program to listen on (or not).

    A port merely found free can be taken by another suite's process before the program
    binds it, on a machine that runs several at once. This one stays bound here (never
    listening, so connections reach only the program) with SO_REUSEPORT: no other
    process can bind it, except one of the same user that sets SO_REUSEPORT too, as the
    test's program does (listen_code in helpers.py).
    """
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


@pytest.fixture
def top(request) -> Path:
    """A 0755 directory of root's that any user can reach (the trust tests need root)."""
    if os.geteuid() != 0:
        pytest.skip("the daemon user's rights matter when daemonctl runs as root")
    path = Path(tempfile.mkdtemp(prefix="dctl-top-"))
    request.addfinalizer(lambda: shutil.rmtree(path, ignore_errors=True))
    path.chmod(0o755)
    return path


@pytest.fixture
def home(top) -> Path:
    """DIR owned by nobody inside `top`: nobody can reach and write DIR."""
    d = top / "home"
    d.mkdir()
    os.chown(d, NOBODY_UID, NOBODY_UID)
    return d


@pytest.fixture
def state_dir(tmp_path) -> Path:
    return tmp_path / "state"  # not created: daemonctl creates it on demand


@pytest.fixture
def dctl(daemonctl_exe, state_dir, _cleanup) -> Dctl:
    d = Dctl(daemonctl_exe, state_dir, _cleanup["token"], _cleanup["tracked"])
    _cleanup["dctl"] = d
    return d


@pytest.fixture(autouse=True)
def _cleanup(tmp_path):
    """After each test SIGKILL (process group and process) everything it started."""
    ctx = {"token": uuid.uuid4().hex, "tracked": [], "dctl": None}
    since = now_ticks() - CLK_TCK
    yield ctx
    d: Dctl | None = ctx["dctl"]
    dirs = [tmp_path / "state"] + (d.extra_state_dirs if d else [])
    victims: set[int] = set()
    popens = []
    for item in ctx["tracked"]:
        if isinstance(item, subprocess.Popen):
            popens.append(item)
            victims.add(item.pid)
        else:
            victims.add(int(item))
    victims |= pids_from_state(dirs, since)
    if d is not None:
        victims |= set(d.token_pids())
    protected = {0, 1, os.getpid(), *ancestors()}
    victims -= protected
    for pid in victims:
        st = proc_stat(pid)
        if st and st["pgrp"] == pid and pid not in protected:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    for p in popens:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for stream in (p.stdout, p.stderr):
            if stream:
                stream.close()
    for pid in victims:
        wait_gone(pid, timeout=5)
    # The cgroups of the test's daemons: the ones `stop` did not remove (a daemon left running).
    left = [line for state in dirs for line in remove_cgroups(state)]
    if left:
        pytest.fail("cgroups left behind that would not go: " + "; ".join(left))


@pytest.fixture
def serve(dctl):
    """serve(*ARGS): `daemonctl serve ARGS` listening (see serving.Served); TERMed after the test."""
    from .serving import Served

    started: list[Served] = []

    def run(*args: str) -> Served:
        started.append(Served(dctl, *args))
        return started[-1]

    yield run
    for server in started:
        if server.alive():
            server.stop()
