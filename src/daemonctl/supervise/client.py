"""daemonctl's side of `--respawn`: starting a supervisor, and ending one."""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable

from daemonctl.faults import crash_point
from daemonctl.proc.containment import Placement
from daemonctl.proc.pidfd import open_verified, wait_any
from daemonctl.proc.procfs import Identity
from daemonctl.proc.spawn import Launch, parse_report, spawn
from daemonctl.store.record import Record, StartSpec
from daemonctl.supervise import resident_environ

SUPERVISOR_GONE_TIMEOUT = 10.0


def spawn_supervised(
    name: str,
    spec: StartSpec,
    env: dict[str, str],
    record_path: str,
    lock_path: str,
    stderr_fd: int,
    on_ready: Callable[[Identity], None] | None = None,
    writer_lock: str | None = None,
    placement: Placement | None = None,
) -> tuple[Identity, Identity]:
    """Start a supervisor, which starts the program: (supervisor, program); SpawnError if either fails.

    `on_ready(supervisor)` runs before the supervisor may exec (see spawn). With a
    `placement`, the supervisor is in its `supervisor` cgroup, each run of the program in `program`.
    """
    rec = Record(name, spec)
    if placement is not None:
        rec = rec._replace(cgroup=placement.v2, cgroup_v1=list(placement.v1))
    config = {
        "record": rec.to_json(),
        "env": env,
        "record_path": str(record_path),
        "lock_path": str(lock_path),
        "log": None,
    }
    if spec.log_writer and writer_lock is not None:
        from daemonctl.supervise.logclient import writer_config

        config["log"] = writer_config(name, spec, writer_lock, env, dict(os.environ))
    # On its stdin, from a memfd: an environment variable is limited to 128 KiB.
    config_fd = os.memfd_create("daemonctl-supervise", os.MFD_CLOEXEC)
    try:
        data = memoryview(json.dumps(config).encode("utf-8"))
        while data:
            data = data[os.write(config_fd, data):]
        os.lseek(config_fd, 0, os.SEEK_SET)
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
    except BaseException:
        os.close(config_fd)
        raise
    # -P: nothing from the working directory shadows the supervisor's own modules.
    argv = [sys.executable, "-P", "-m", "daemonctl.supervise.resident"]
    launch = Launch(
        sys.executable, argv, resident_environ(), "/", 0o022, write_end, stderr_fd, stdin_fd=config_fd,
        cgroups=(placement.supervisor,) if placement is not None and placement.supervisor else (),
    )
    try:
        try:
            supervisor = spawn(launch, on_ready=on_ready)
        finally:
            os.close(write_end)
            os.close(config_fd)
        crash_point("start:supervisor")
        report = _read_all(read_end)
    finally:
        os.close(read_end)
    return supervisor, parse_report(report)


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 4096):
        chunks.append(chunk)
    return b"".join(chunks)


def end_supervisor(identity: Identity | None, writes_logs: bool = False) -> list[Identity]:
    """SIGKILL the supervisor (if it is still that process) and wait until it is gone.

    One that `writes_logs` is detached instead (see resident.DETACH): it restarts
    nothing and touches no record from then on, and writes the program's output
    until the program, which the caller stops next, is gone; `await_drained` waits
    for that. Killed, it would take the program's last lines with it, and the
    program would meet a broken pipe.

    Called with the daemon's lock held: the supervisor only starts a program
    under that lock, so once it is gone nothing can be restarted any more.
    Returns the programs it had started (group leaders of its session, seen while
    it was alive), which the record may not name: it could not be written, or
    a killed `start` left the supervisor recording its first program.
    """
    if identity is None:
        return []
    fd = open_verified(identity)
    if fd is None:
        return []
    try:
        programs = _programs_of(identity)
        if writes_logs:
            signal.pidfd_send_signal(fd, signal.SIGRTMIN)
            return programs
        signal.pidfd_send_signal(fd, signal.SIGKILL)
        wait_any([fd], SUPERVISOR_GONE_TIMEOUT)
        return programs
    except ProcessLookupError:
        return []
    finally:
        os.close(fd)


def _programs_of(supervisor: Identity) -> list[Identity]:
    """Group leaders in the live supervisor's session, started after it: its programs.

    While the supervisor lives (held by a verified pidfd) its session is its own, so
    everything in that session is the daemon's.
    """
    from daemonctl.proc.ownership import scan
    from daemonctl.proc.procfs import read_stat

    me = read_stat(supervisor.pid)
    if me is None:
        return []
    return [
        Identity(st.pid, st.starttime, supervisor.boot_id)
        for st in scan()
        if st.sid == me.sid and st.pgid == st.pid and st.pid != supervisor.pid
        and not st.zombie and st.starttime >= supervisor.starttime
    ]
