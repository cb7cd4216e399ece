"""The resident supervisor of a set (`python -P -m daemonctl.supervise.pool_resident`): one process
for every instance of `start --respawn --instances N` (the loop is supervise/pool.py).

It starts with no instance. daemonctl hands it each one (at start, at a scale-up, at a
restart of one instance) over a unix socket in the abstract namespace named after this
process's identity (pool.address), which only root and this process's own user may use:
the request is the instance's record and environment, as the single supervisor gets
them on its stdin; the answer is the program's spawn report. The program is recorded
before it may exec, without the lock, which the daemonctl that asked holds meanwhile.

`stop NAME@i` takes the instance's lock and releases it (the record stops naming this
supervisor), then stops the program itself: when it ends, this supervisor finds the
record no longer its own and lets the instance go, restarting nothing.

Lean like the single supervisor: no Click, no psutil, no socket module (only _socket).
"""

from __future__ import annotations

import _socket
import errno
import os
import select
import signal
import time
from contextlib import contextmanager

from daemonctl.faults import fail_point
from daemonctl.proc.procfs import Identity
from daemonctl.proc.spawn import SpawnError, parse_report
from daemonctl.store import schema
from daemonctl.store.lock import acquire, holding, try_locked
from daemonctl.store.logfiles import open_log
from daemonctl.store.safeopen import Rights
from daemonctl.supervise.loop import why
from daemonctl.supervise.policy import Ending
from daemonctl.supervise.pool import Member, Pool, address
from daemonctl.supervise.resident import (
    ProgramChild,
    RecordKeeper,
    Spec,
    _read_config,
    _write_report,
    credentials,
    spawn_program,
    start_program,
    tell,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from daemonctl.supervise.loop import Child

MAX_REQUEST = 16 << 20  # a record and an environment: a few MiB at most
REQUEST_TIMEOUT = 10.0


class PoolProgram:
    """An instance's program (the single supervisor's ProgramChild), polled without blocking."""

    def __init__(self, child: ProgramChild) -> None:
        child.reaps_strays = False
        self.child = child
        self.pid = child.pid

    def poll(self) -> Ending | None:
        if self.child.reaped:
            return None
        try:
            info = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return self.child.wait()  # reaped elsewhere: it ended, its status unknown (as the single supervisor has it)
        if info is None:
            return None
        return self.child.wait()

    def wait(self) -> Ending:
        return self.child.wait()

    def signal(self, sig: int, group: bool = False) -> None:
        self.child.signal(sig, group)

    def kill(self) -> None:
        self.child.signal(signal.SIGKILL, group=True)
        if self.child.reaped:
            return
        try:
            self.child.wait()
        except Exception:  # what made us give it up (its cgroup, say) may fail the wait too: reap it all the same
            if not self.child.reaped:
                self.child.reaped = True
                try:
                    os.waitpid(self.pid, 0)
                except ChildProcessError:
                    pass


class PoolKeeper(RecordKeeper):
    """An instance's record: ours while it names this supervisor AND the program we last started,
    so that an instance released and handed to us again is never taken for the old one."""

    def __init__(self, record_path: str, lock_path: str, me: Identity, rights: Rights | None, name: str = "") -> None:
        super().__init__(record_path, lock_path, me, rights)
        self.program: tuple[Any, Any] | None = None
        self.name = name
        self.removed = False  # let go for good: no lock file and no record of ours (see try_locked)

    @contextmanager
    def try_locked(self) -> Iterator[bool]:
        """The instance's lock, without making its file again once the instance was let go.

        `remove` (a scale-down's too) unlinks the record, then the lock file, holding the lock;
        `start` makes the lock file before the record. A lock file made now would be left
        behind, protecting nothing. So with no lock file, unless the record (read without the
        lock) is still ours (the file alone was deleted: by hand, by a cleaner of old files),
        the instance is gone: the block runs without the lock and finds nothing of ours, not
        even a record made since (another keeper's).
        """
        try:
            fd = acquire(self.lock_path, blocking=False, create=False)
        except FileNotFoundError:
            if not self.removed and self._mine() is not None:
                with try_locked(self.lock_path) as got:
                    yield got
                return
            self.removed = True
            yield True
            return
        except OSError:
            yield False
            return
        with holding(fd) as got:
            yield got

    def _mine(self) -> dict[str, Any] | None:
        if self.removed:
            return None
        data = super()._mine()
        if data is None or (self.program is not None and (data.get("pid"), data.get("starttime")) != self.program):
            return None
        return data

    def ended(self, ending: Ending) -> bool:
        fail_point(f"pool:ended:{self.name}")
        return super().ended(ending)

    def started(self, child: Child, restarts: int) -> bool:
        if not super().started(child, restarts):
            return False
        if child.pid:
            data = super()._mine()
            if data is not None:
                self.program = (data.get("pid"), data.get("starttime"))
        return True


class Listener:
    """The supervisor's socket; each request adopts one instance."""

    def __init__(self, me: Identity) -> None:
        self.sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
        self.sock.bind(address(me.pid, me.starttime))
        self.sock.listen(64)

    def fileno(self) -> int:
        return int(self.sock.fileno())

    def accept(self) -> _socket.socket | None:
        """The next request's connection, if it comes from root or our own user."""
        try:
            fd, _ = self.sock._accept()  # type: ignore[attr-defined]  # _socket has no accept()
        except OSError:
            return None
        conn = _socket.socket(fileno=fd)
        cred = conn.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
        uid = int.from_bytes(cred[4:8], "little")
        if uid not in (0, os.geteuid()):
            conn.close()
            return None
        conn.settimeout(REQUEST_TIMEOUT)
        return conn

    def close(self) -> None:
        self.sock.close()


def _receive(conn: _socket.socket) -> bytes:
    chunks, size = [], 0
    while size <= MAX_REQUEST:
        chunk = conn.recv(1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def adopt(pool: Pool, conn: _socket.socket, me: Identity) -> None:
    """One request: start the instance's program, answer with its spawn report, supervise it."""
    import json

    try:
        request = json.loads(_receive(conn))
        record = schema.check(request["record"])
        env: dict[str, str] = request["env"]
        record_path, lock_path = str(request["record_path"]), str(request["lock_path"])
        spec = Spec(record)
        creds = credentials(spec)
    except Exception as err:  # a request daemonctl would never send: refuse it, go on supervising
        tell(f"daemonctl: supervisor: refused a request: {err}")
        _answer(conn, f"P 0 0\nE {errno.EINVAL} request\n".encode())
        return
    keeper = PoolKeeper(record_path, lock_path, me, Rights.of(creds), str(record.get("name") or ""))
    member: Member | None = None

    def record_start(pid: int, restarts: int) -> None:
        # Recorded before it may exec: a program no record names never runs.
        if not keeper.started(ProgramChild(pid), restarts):
            raise OSError(errno.ESTALE, "the record is no longer this supervisor's")

    def record_restart(pid: int) -> None:
        assert member is not None
        record_start(pid, member.restarts + 1)

    ooms = spec.ooms()  # its cgroup's OOM kills before this run (None: no cgroup)
    try:
        pid, report = spawn_program(spec, env, creds, on_ready=lambda pid: record_start(pid, 0))
    except OSError as err:
        pid, report = 0, f"P 0 0\nE {err.errno or 0} stdio\n".encode()
    except SpawnError as err:
        pid, report = 0, f"P 0 0\nE {err.errno} {err.stage}\n".encode()
    except Exception as err:  # nothing runs (spawn_program reaps a refused run): this start fails, the set goes on
        tell(f"daemonctl: supervisor: cannot start {spec.executable}: {why(err)}")
        pid, report = 0, f"P 0 0\nE {errno.EIO} supervisor\n".encode()
    _answer(conn, report)
    try:
        parse_report(report)
    except SpawnError:
        if pid:
            os.waitpid(pid, 0)
        return
    member = Member(int(record.get("instance") or 0), PoolProgram(ProgramChild(pid, spec=spec, ooms=ooms)),
                    lambda: _restarted(spec, env, creds, record_restart), spec.policy, keeper, time.monotonic(),
                    say=lambda line: _say(spec, creds, line))
    pool.adopt(member)


def _restarted(spec: Spec, env: dict[str, str], creds: Any, on_ready: Any) -> PoolProgram:
    return PoolProgram(start_program(spec, env, creds, on_ready))


def _say(spec: Spec, creds: Any, line: str) -> None:
    """One line in the instance's stderr log (ours, the first instance's, if it cannot be opened)."""
    try:
        fd, _ = open_log(spec.stderr, "stderr", creds)
    except Exception:
        tell(line)
        return
    try:
        os.write(fd, (line + "\n").encode("utf-8", "replace"))
    except OSError:
        pass
    finally:
        os.close(fd)


def _answer(conn: _socket.socket, report: bytes) -> None:
    try:
        conn.sendall(report)
    except OSError:
        pass  # daemonctl was killed: the record names the program, so supervise it all the same
    finally:
        conn.close()


def _install_signals(pool: Pool, wake: int) -> None:
    def on_stop(sig: int, frame: object) -> None:
        pool.request_stop()

    def on_forward(sig: int, frame: object) -> None:
        pool.forward(sig)

    def on_child(sig: int, frame: object) -> None:
        pass  # the wakeup fd is written: the loop polls the children

    signal.set_wakeup_fd(wake)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_stop)
    for sig in (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, on_forward)
    signal.signal(signal.SIGCHLD, on_child)


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def main() -> int:
    _read_config()
    me = Identity.of(os.getpid())
    assert me is not None
    wake_read, wake_write = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
    pool = Pool(time.monotonic)
    try:
        listener = Listener(me)
    except OSError as err:
        tell(f"daemonctl: supervisor: cannot listen for instances: {err.strerror}")
        _write_report(f"P {me.pid} 0\nE {err.errno or 0} listen\n".encode())
        return 1
    _install_signals(pool, wake_write)
    _write_report(b"R\n")
    try:
        while True:
            timeout = pool.step()
            if pool.done:
                return 0
            ready, _, _ = select.select([listener.fileno(), wake_read], [], [], timeout)
            if wake_read in ready:
                _drain(wake_read)
            if listener.fileno() in ready:
                conn = listener.accept()
                if conn is not None:
                    adopt(pool, conn, me)
    finally:
        listener.close()


if __name__ == "__main__":  # pragma: no cover - the resident process
    raise SystemExit(main())
