"""What `remove` still makes out of a corrupt record before forgetting it (daemonctl.badrecord)."""
import os
import subprocess
import time

from daemonctl import badrecord
from daemonctl.proc.procfs import Identity
from daemonctl.store import record
from daemonctl.store.statedir import StateDir

SPEC = record.StartSpec(["sleep", "1"], "/bin/sleep", "/s/a.pid", "/s/a.log", "/s/a.log")
BOOT = "704887bf-b1e8-4106-80af-e3e7f11664ed"


def test_a_cut_record_keeps_the_identities_written_first():
    rec = record.Record("a", SPEC, supervisor_pid=90, supervisor_starttime=80).running(Identity(91, 85, BOOT))
    raw = record.encode(rec)
    cut = raw[: raw.index(b'"restarts"')]
    assert badrecord.identities_in(cut) == [Identity(91, 85, BOOT), Identity(90, 80, BOOT)]
    assert badrecord.identities_in(raw[: raw.index(b'"boot_id"')]) == []  # no boot id: no identity
    assert badrecord.identities_in(b'{"pid": 1, "starttime": 5, "boot_id": "ab"}') == []  # never PID 1
    assert badrecord.identities_in(b'{"pid": "12", "starttime": 5, "boot_id": "ab"}') == []  # a string is not a PID


def test_a_pidfile_counts_only_for_a_process_started_before_it_was_written(tmp_path):
    state = StateDir(str(tmp_path))
    pidfile = tmp_path / "a.pid"
    child = subprocess.Popen(["sleep", "60"])
    try:
        pidfile.write_text(f"{child.pid}\n")  # written after it started, as daemonctl writes one
        assert badrecord.still_running(state, "a", None) == child.pid
        old = time.time() - 3600
        os.utime(pidfile, (old, old))  # written an hour before that process started: a reused PID
        assert badrecord.still_running(state, "a", None) is None
        pidfile.write_text("garbage\n")
        assert badrecord.still_running(state, "a", None) is None
    finally:
        child.kill()
        child.wait()
    pidfile.write_text(f"{child.pid}\n")  # gone
    assert badrecord.still_running(state, "a", None) is None
