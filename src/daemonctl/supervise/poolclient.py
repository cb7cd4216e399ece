"""daemonctl's side of a set's one supervisor (supervise/pool_resident.py): find it, start it,
hand it an instance."""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Callable

from daemonctl.instances import members, split
from daemonctl.proc.procfs import Identity, is_alive
from daemonctl.proc.spawn import Launch, SpawnError, parse_report, spawn
from daemonctl.store import record as record_mod
from daemonctl.store.record import Record, StartSpec
from daemonctl.store.statedir import StateDir
from daemonctl.supervise import resident_environ
from daemonctl.supervise.pool import address

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daemonctl.proc.containment import Placement

CONNECT_TIMEOUT = 30.0  # the supervisor answers once the program is set up (or failed to exec)


def find_pool(state: StateDir, set_: str) -> Identity | None:
    """The live supervisor of the set, as one of its instances' records names it."""
    for name in members(state.names(), set_).values():
        try:
            rec = record_mod.load(state.record(name), name)
        except (record_mod.CorruptRecord, OSError):
            continue
        if rec is None or rec.spec.instance is None or not rec.spec.respawn:
            continue
        sup = rec.supervisor
        if sup is not None and is_alive(sup):
            return sup
    return None


def spawn_in_pool(
    state: StateDir,
    name: str,
    spec: StartSpec,
    env: dict[str, str],
    stderr_fd: int,
    on_ready: Callable[[Identity], None],
    placement: Placement | None = None,
) -> tuple[Identity, Identity]:
    """Start instance `name` under its set's supervisor (started first if the set has none running):
    (supervisor, program); SpawnError if the program cannot be started.

    `on_ready(supervisor)` runs (records the instance as the supervisor's) before the supervisor
    is asked to start the program. With a `placement`, each run of the program is in the instance's
    `program` cgroup; the set's supervisor is in none of its instances' cgroups.
    """
    parts = split(name)
    assert parts is not None, "an instance's name"
    pool = find_pool(state, parts[0])
    conn = _connect(pool) if pool is not None else None
    if pool is not None and conn is not None:
        try:
            on_ready(pool)
        except BaseException:
            conn.close()
            raise
    else:
        pool = _spawn_pool(parts[0], stderr_fd, on_ready)
        conn = _connect(pool)
        if conn is None:
            raise SpawnError("listen", 111)  # ECONNREFUSED: it ended at once
    rec = Record(name, spec)
    if placement is not None:
        rec = rec._replace(cgroup=placement.v2, cgroup_v1=list(placement.v1))
    request = {
        "record": rec.to_json(),
        "env": env,
        "record_path": state.record(name),
        "lock_path": state.lock(name),
    }
    with conn:
        try:
            conn.sendall(json.dumps(request).encode("utf-8"))
            conn.shutdown(socket.SHUT_WR)
            report = _read_all(conn)
        except OSError as err:
            raise SpawnError("supervisor", err.errno or 0) from None
    if not report:
        raise SpawnError("supervisor", 104)  # ECONNRESET: it ended before it answered
    return pool, parse_report(report)


def _connect(pool: Identity) -> socket.socket | None:
    """A connection to the supervisor `pool`, checked to be that process; None if it is not listening."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    sock.settimeout(CONNECT_TIMEOUT)
    try:
        sock.connect(address(pool.pid, pool.starttime))
        cred = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
    except OSError:
        sock.close()
        return None
    if int.from_bytes(cred[0:4], "little") != pool.pid or not is_alive(pool):
        sock.close()  # someone else's socket by that name: never hand it an instance
        return None
    return sock


def _read_all(conn: socket.socket) -> bytes:
    chunks = []
    while chunk := conn.recv(4096):
        chunks.append(chunk)
    return b"".join(chunks)


def _spawn_pool(set_: str, stderr_fd: int, on_ready: Callable[[Identity], None]) -> Identity:
    """Start the set's supervisor (with no instance yet); once it listens, its identity."""
    config_fd = os.memfd_create("daemonctl-pool", os.MFD_CLOEXEC)
    try:
        os.write(config_fd, json.dumps({"set": set_}).encode())
        os.lseek(config_fd, 0, os.SEEK_SET)
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
    except BaseException:
        os.close(config_fd)
        raise
    argv = [sys.executable, "-P", "-m", "daemonctl.supervise.pool_resident"]
    launch = Launch(sys.executable, argv, resident_environ(), "/", 0o022, write_end, stderr_fd, stdin_fd=config_fd)
    try:
        try:
            supervisor = spawn(launch, on_ready=on_ready)
        finally:
            os.close(write_end)
            os.close(config_fd)
        chunks = []
        while chunk := os.read(read_end, 4096):
            chunks.append(chunk)
    finally:
        os.close(read_end)
    report = b"".join(chunks)
    if report != b"R\n":
        parse_report(report)  # its error (cannot listen)
        raise SpawnError("listen", 0)
    return supervisor
