"""Which processes a record proves to be the daemon's, on injected /proc readings."""

from pathlib import Path

import pytest

from daemonctl.proc import ownership
from daemonctl.proc.ownership import GroupProof, proof_for
from daemonctl.proc.procfs import parse_stat
from daemonctl.states import RESTARTING, RUNNING, STOPPED
from daemonctl.store.record import Record, StartSpec

BOOT = "this-boot"
LEADER, SESSION, START = 4000, 3999, 5000


def stat(pid: int, pgid: int = LEADER, sid: int = SESSION, start: int = START + 10, state: str = "S") -> str:
    return f"{pid} (p) {state} 1 {pgid} {sid} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 {start} 0 0"


def fake_proc(tmp_path: Path, entries: dict[int, str], uid: int = 0) -> str:
    for pid, line in entries.items():
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(line)
        (tmp_path / str(pid) / "status").write_text(f"Name:\tp\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\n")
    return str(tmp_path)


def record(state: str = RUNNING, **kw) -> Record:
    spec = StartSpec(["/bin/sleep"], "/bin/sleep", "/s/a.pid", "/s/a.log", "/s/a.log")
    fields = dict(state=state, pid=LEADER, starttime=START, boot_id=BOOT, sid=SESSION)
    fields.update(kw)
    return Record("a", spec, **fields)


def prove(rec: Record, uid: int | None = None) -> GroupProof | None:
    return proof_for(rec, uid, current_boot=lambda: BOOT)


@pytest.mark.parametrize("state", [STOPPED, "exited", "failed"])
def test_a_record_that_does_not_say_it_runs_proves_nothing(state):
    assert prove(record(state)) is None


def test_a_record_of_another_boot_or_without_identity_proves_nothing():
    assert prove(record(boot_id="an-earlier-boot")) is None
    assert prove(record(starttime=None)) is None
    assert prove(record(pid=None)) is None
    assert prove(None) is None


@pytest.mark.parametrize("state", [RUNNING, RESTARTING])
def test_a_running_record_proves_its_group_in_its_session(state):
    assert prove(record(state)) == GroupProof(LEADER, SESSION, START, None)


def test_leftovers_share_group_session_and_boot_and_started_after_the_leader(tmp_path):
    proc = fake_proc(tmp_path, {
        4001: stat(4001),                       # the daemon's child: group, session, later start
        4002: stat(4002, start=START),          # started in the same tick as the leader
        4003: stat(4003, sid=4000),             # a stranger that reused PID 4000 and called setsid
        4004: stat(4004, start=START - 1),      # older than the daemon: not its child
        4005: stat(4005, pgid=4005),            # left the group (set up its own)
        4006: stat(4006, state="Z"),            # a zombie: already gone
        4007: stat(4007, pgid=77, sid=77),      # unrelated
    })
    proof = prove(record())
    assert sorted(ownership.members(proof, proc)) == [4001, 4002]


def test_a_stranger_session_reusing_the_leaders_pid_is_never_the_daemons(tmp_path):
    # Defect 2: PID 4000 is free; a stranger took it, called setsid, forked a worker
    # and exited. Its worker is in group 4000, but in session 4000, not the daemon's.
    proc = fake_proc(tmp_path, {4100: stat(4100, pgid=LEADER, sid=LEADER, start=START + 999)})
    assert ownership.members(prove(record()), proc) == []
    assert prove(record(STOPPED)) is None  # and a stopped record does not even look


def test_a_record_without_session_proves_no_leftovers(tmp_path):
    proc = fake_proc(tmp_path, {4001: stat(4001)})
    proof = prove(record(sid=None))
    assert proof is not None and ownership.members(proof, proc) == []
    assert not proof.owns(parse_stat(stat(4001)))


def test_as_another_user_leftovers_must_run_as_that_user(tmp_path):
    proc = fake_proc(tmp_path, {4001: stat(4001)}, uid=65534)
    assert ownership.members(prove(record(), uid=65534), proc) == [4001]
    assert ownership.members(prove(record(), uid=1000), proc) == []


def test_still_owned_reads_the_process_again(tmp_path):
    proc = fake_proc(tmp_path, {4001: stat(4001)})
    proof = prove(record())
    assert ownership.still_owned(proof, 4001, proc)
    assert not ownership.still_owned(proof, 4009, proc)  # gone
    (tmp_path / "4001" / "stat").write_text(stat(4001, start=START + 500, sid=4001))  # PID reused
    assert not ownership.still_owned(proof, 4001, proc)
