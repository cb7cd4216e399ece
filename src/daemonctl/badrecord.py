"""`remove` of a corrupt record: forget it, unless what is left of it says its daemon may still run.

A corrupt record cannot be acted on (no signal goes by it), but a daemon it
described may still run: the record can be cut short or damaged while its
program and supervisor live. Removing it would hide that daemon from every
command. So before forgetting, what can still be made out is checked:

- the identities (PID, start time, boot id) the damaged text still holds, read
  leniently. A truncated record keeps them: they are written first. A live
  process with that very identity refuses the removal.
- the default pidfile NAME.pid: a live process it names that started before the
  pidfile was written may be the daemon, and refuses the removal too. One
  started later only reuses the PID.

The refusal says which PID runs, so it can be ended by hand. These readings are
never used to signal anything.
"""

import os
import re
import time

from daemonctl.errors import Failure
from daemonctl.proc.procfs import Identity, is_alive, read_stat
from daemonctl.store.statedir import StateDir

# "key": value pairs as daemonctl writes them; in a damaged record nothing else can be relied on.
_NUMBER = re.compile(rb'"(pid|starttime|supervisor_pid|supervisor_starttime)"\s*:\s*(\d{1,19})\b')
_BOOT_ID = re.compile(rb'"boot_id"\s*:\s*"([0-9a-f-]{1,64})"')
CLOCK_SLACK = 1.0  # seconds: process start times are known to a tick, the boot time to a second


def identities_in(raw: bytes) -> list[Identity]:
    """The program's and the supervisor's identities a damaged record still holds (first of each key)."""
    found: dict[str, int] = {}
    for match in _NUMBER.finditer(raw):
        found.setdefault(match.group(1).decode(), int(match.group(2)))
    boot = _BOOT_ID.search(raw)
    if boot is None:
        return []
    idents = []
    for pid_key, start_key in (("pid", "starttime"), ("supervisor_pid", "supervisor_starttime")):
        if pid_key in found and start_key in found and found[pid_key] > 1:
            idents.append(Identity(found[pid_key], found[start_key], boot.group(1).decode()))
    return idents


def still_running(state: StateDir, name: str, raw: bytes | None) -> int | None:
    """A PID that may be the daemon of NAME's corrupt record, None when nothing of it can run."""
    for ident in identities_in(raw or b""):
        if is_alive(ident):
            return ident.pid
    return _pidfile_process(state.pidfile(name))


def _pidfile_process(path: str) -> int | None:
    from daemonctl.store import pidfile as pidfile_mod

    try:
        contents = pidfile_mod.read(path)
    except (pidfile_mod.InvalidPidfile, pidfile_mod.UnsafePidfile):
        return None
    if contents.pid is None or contents.stat is None:
        return None
    st = read_stat(contents.pid)
    if st is None or st.zombie:
        return None
    started = _boot_wall_time() + st.starttime / os.sysconf("SC_CLK_TCK")
    return contents.pid if started <= contents.stat.st_mtime + CLOCK_SLACK else None


def _boot_wall_time() -> float:
    return time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)


def forget(state: StateDir, name: str) -> None:
    """Remove NAME's corrupt record (under NAME's lock) and its default pidfile; Failure if it may still run."""
    from daemonctl.store import schema
    from daemonctl.store.atomic import remove, sweep_temps

    path = state.record(name)
    try:
        raw = schema.read(path)
    except (schema.Invalid, OSError):
        raw = None  # not a regular file, too large, unreadable: nothing to make out
    pid = still_running(state, name, raw)
    if pid is not None:
        raise Failure(f"the record of {name} ({path}) is corrupt, and pid {pid}, which it or {state.pidfile(name)} names, "
                      f"still runs: end it by hand (kill {pid}) if it is {name}, then remove {name} again")
    remove(state.pidfile(name))
    _remove_any(path)
    sweep_temps(path)


def _remove_any(path: str) -> None:
    """Unlink the record, whatever it is (a symlink goes, not its target); an empty directory is removed."""
    from daemonctl.store.atomic import remove

    if os.path.isdir(path) and not os.path.islink(path):
        try:
            os.rmdir(path)
        except OSError as err:
            raise Failure(f"cannot remove {path}: it is a directory ({err.strerror})") from None
        return
    remove(path)
