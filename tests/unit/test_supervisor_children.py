"""The supervisors' children as they really end: a run reaped elsewhere (ECHILD) ended with its
status unknown; a run refused by the record before its exec is reaped, not left a zombie."""

import os
import subprocess
import sys

from daemonctl.proc.procfs import Identity
from daemonctl.states import RESTARTING
from daemonctl.store import record, schema
from daemonctl.supervise.policy import UNKNOWN_ENDING, Backoff, Policy, decide
from daemonctl.supervise.pool_resident import PoolKeeper, PoolProgram
from daemonctl.supervise.resident import ProgramChild, RecordKeeper


def reaped_elsewhere() -> int:
    """The PID of a child of ours that something else in this process has reaped already."""
    child = subprocess.Popen(["true"])
    child.wait()  # as a stray reaper would
    return child.pid


def no_group_kill(monkeypatch):
    sent = []
    monkeypatch.setattr(os, "killpg", lambda pgid, sig: sent.append((pgid, sig)))
    return sent


def test_an_instance_reaped_elsewhere_has_ended_with_its_status_unknown(monkeypatch):
    sent = no_group_kill(monkeypatch)
    program = PoolProgram(ProgramChild(reaped_elsewhere()))
    assert program.poll() == UNKNOWN_ENDING  # not "still running" forever
    assert program.child.reaped
    assert sent == []  # its PID, so its group number, may be another's by now


def test_a_program_reaped_elsewhere_has_ended_with_its_status_unknown_for_the_single_supervisor(monkeypatch):
    sent = no_group_kill(monkeypatch)
    child = ProgramChild(reaped_elsewhere())
    assert child.wait() == UNKNOWN_ENDING and child.reaped and sent == []


def test_an_unknown_ending_is_a_failure_to_the_policy():
    assert UNKNOWN_ENDING.failed and not UNKNOWN_ENDING.known
    assert UNKNOWN_ENDING.describe() == "ended, status unknown"
    assert decide(Policy("on-failure", min_uptime=10.0), Backoff(), UNKNOWN_ENDING, 0.5).action == "restart"


def kept(tmp_path, keeper=RecordKeeper):
    me = Identity.of(os.getpid())
    spec = record.StartSpec(command=["app"], executable="/usr/bin/app", pidfile=str(tmp_path / "w.pid"),
                            stdout=str(tmp_path / "w.log"), stderr=str(tmp_path / "w.log"), respawn="on-failure")
    rec = record.Record("w", spec, pid=me.pid, starttime=me.starttime, boot_id=me.boot_id,
                        supervisor_pid=me.pid, supervisor_starttime=me.starttime,
                        last_exit={"code": 1, "at": "2026-11-30T20:00:00+00:00"}).running(me)
    path = tmp_path / "w.json"
    schema.write(str(path), rec.to_json())
    return keeper(str(path), str(tmp_path / "w.lock"), me, None), path


def test_the_end_of_a_run_with_its_status_unknown_is_recorded_with_no_exit_status(tmp_path):
    for keeper in (RecordKeeper, PoolKeeper):
        k, path = kept(tmp_path, keeper)
        assert k.ended(UNKNOWN_ENDING)  # True: the record is still ours, the run is restarted
        data = schema.load(str(path))
        assert data["state"] == RESTARTING and data["last_exit"] is None  # never an old run's, never a guess


# In a fresh interpreter, as the supervisor runs it: its only child is the refused run's.
REFUSED = r"""
import errno, os
import daemonctl.supervise.resident as sup
spec = sup.Spec({"executable": "/bin/true", "command": ["true"], "stdout": os.devnull, "stderr": os.devnull})
def refuse(pid):
    raise OSError(errno.ESTALE, "the record is no longer this supervisor's")
try:
    sup.spawn_program(spec, {}, None, on_ready=refuse)
except OSError as err:
    print("refused" if err.errno == errno.ESTALE else f"raised {err}")
try:
    print("left", os.waitpid(-1, os.WNOHANG))
except ChildProcessError:
    print("reaped")
"""


def test_a_run_refused_by_the_record_is_reaped_not_left_a_zombie():
    out = subprocess.run([sys.executable, "-P", "-c", REFUSED], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["refused", "reaped"], out


def test_a_start_the_sets_supervisor_cannot_make_fails_alone(tmp_path, monkeypatch, capfd):
    # Whatever goes wrong while it starts an instance, that start fails with a report; the
    # supervisor, and the set's other instances, go on.
    import _socket
    import json
    import time

    from daemonctl.supervise import pool_resident
    from daemonctl.supervise.pool import Pool

    keeper, path = kept(tmp_path, PoolKeeper)

    def broken(*args, **kw):
        raise RuntimeError("unexpected")

    monkeypatch.setattr(pool_resident, "spawn_program", broken)
    ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    request = {"record": schema.load(str(path)), "env": {}, "record_path": str(path), "lock_path": keeper.lock_path}
    theirs.sendall(json.dumps(request).encode())
    theirs.shutdown(_socket.SHUT_WR)
    pool = Pool(time.monotonic)
    pool_resident.adopt(pool, ours, keeper.me)
    assert theirs.recv(1024) == b"P 0 0\nE 5 supervisor\n"
    assert pool.members == []
    assert capfd.readouterr().err == "daemonctl: supervisor: cannot start /usr/bin/app: RuntimeError: unexpected\n"
    theirs.close()
