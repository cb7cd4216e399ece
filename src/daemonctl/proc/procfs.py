"""Reading /proc directly: cheap, and exact about zombies and process identity.

psutil would do, but costs 25 ms to import on every status check and reports a
zombie as running; the few fields daemonctl needs are parsed here.
"""

import os

from daemonctl.speedups import NamedTuple

PROC = "/proc"
BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"


class Stat(NamedTuple):
    """The fields of /proc/PID/stat that daemonctl uses."""

    pid: int
    state: str
    ppid: int
    pgid: int
    sid: int
    tty_nr: int
    starttime: int  # clock ticks since boot: with the boot id, unique for a process

    @property
    def zombie(self) -> bool:
        # Z: exited, waiting to be reaped; X: being reaped. Neither runs.
        return self.state in ("Z", "X")


def parse_stat(text: str) -> Stat:
    """Parse the text of /proc/PID/stat.

    The command name (field 2) may contain spaces and parentheses, so the
    fixed fields are read after the *last* ')'.
    """
    head, _, tail = text.rpartition(")")
    pid_text = head.split("(", 1)[0].strip()
    fields = tail.split()
    if not pid_text or len(fields) < 20:
        raise ValueError(f"malformed stat line: {text[:80]!r}")
    # fields[0] is field 3 of proc(5); field N is fields[N - 3].
    return Stat(
        pid=int(pid_text),
        state=fields[0],
        ppid=int(fields[1]),
        pgid=int(fields[2]),
        sid=int(fields[3]),
        tty_nr=int(fields[4]),
        starttime=int(fields[19]),
    )


def read_stat(pid: int, proc: str = PROC) -> Stat | None:
    """The stat of PID, or None when no such process exists."""
    try:
        with open(f"{proc}/{pid}/stat", encoding="utf-8", errors="replace") as f:
            return parse_stat(f.read())
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return None


_boot_id: str | None = None


def boot_id() -> str:
    """This boot's id: a start time in ticks is only unique within one boot."""
    global _boot_id
    if _boot_id is None:
        try:
            with open(BOOT_ID_PATH, encoding="utf-8") as f:
                _boot_id = f.read().strip()
        except OSError:
            _boot_id = ""
    return _boot_id


class Identity(NamedTuple):
    """What makes one process unique across PID reuse."""

    pid: int
    starttime: int
    boot_id: str

    @classmethod
    def of(cls, pid: int, proc: str = PROC) -> "Identity | None":
        st = read_stat(pid, proc)
        if st is None or st.zombie:
            return None
        return cls(pid, st.starttime, boot_id())


def is_alive(identity: Identity, proc: str = PROC) -> bool:
    """True when the process of `identity` exists, is not a zombie, and is the same process."""
    if identity.boot_id != boot_id():
        return False
    st = read_stat(identity.pid, proc)
    return st is not None and not st.zombie and st.starttime == identity.starttime


def pid_alive(pid: int, proc: str = PROC) -> bool:
    """True when PID exists and is not a zombie (no identity check)."""
    st = read_stat(pid, proc)
    return st is not None and not st.zombie


def cmdline(pid: int, proc: str = PROC) -> list[str] | None:
    """The argv of PID as /proc shows it; None when it is gone or not ours to read."""
    try:
        with open(f"{proc}/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    args = raw.split(b"\0")
    if args[-1] == b"":
        args.pop()  # the NUL that ends the last argument; a process that rewrote its argv may lack it
    return [os.fsdecode(a) for a in args]


_boot_time: int | None = None


def boot_time(proc: str = PROC) -> int | None:
    """When this machine booted, in seconds since the epoch (btime of /proc/stat)."""
    global _boot_time
    if _boot_time is None:
        try:
            with open(f"{proc}/stat", encoding="utf-8", errors="replace") as f:
                for line in f:
                    if line.startswith("btime "):
                        _boot_time = int(line.split()[1])
                        break
        except (OSError, ValueError, IndexError):
            return None
    return _boot_time


def start_time(identity: Identity, proc: str = PROC) -> float | None:
    """When the process of `identity` started, in seconds since the epoch."""
    booted = boot_time(proc)
    if booted is None:
        return None
    return booted + identity.starttime / os.sysconf("SC_CLK_TCK")


def group_members(pgid: int, proc: str = PROC) -> list[int]:
    """Live (non-zombie) processes in process group `pgid`; scans the process table.

    Empty for 0 (the kernel threads' group, and killpg's "my own group") and 1 (init's):
    neither is ever a daemon's, whatever a record says.
    """
    if pgid <= 1:
        return []
    members = []
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        st = read_stat(int(entry), proc)
        if st is not None and st.pgid == pgid and not st.zombie:
            members.append(st.pid)
    return members


def uids(pid: int, proc: str = PROC) -> tuple[int, int, int] | None:
    """Real, effective and saved user id of PID, or None when it is gone or unreadable."""
    try:
        with open(f"{proc}/{pid}/status", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("Uid:"):
                    real, eff, saved = (int(v) for v in line.split()[1:4])
                    return real, eff, saved
    except (OSError, ValueError):
        return None
    return None


def exe_of(pid: int, proc: str = PROC) -> str | None:
    """Path of the executable PID runs, or None when unknown (gone, or not ours to read)."""
    try:
        return os.readlink(f"{proc}/{pid}/exe")
    except OSError:
        return None
