"""export: a daemon's record as a systemd service unit or a supervisord program section, one module per target.

Every start option is exported, or else named in a comment of the output and in a
note on stderr (the notes render returns): nothing is dropped without a word.
"""

from __future__ import annotations

from daemonctl.errors import Failure, UsageError
from daemonctl.export.base import Notes
from daemonctl.export.supervisor import supervisor_section
from daemonctl.export.systemd import systemd_unit
from daemonctl.quoting import Unquotable
from daemonctl.schedule import Schedule
from daemonctl.store.record import Record
from daemonctl.store.statedir import StateDir, validate_name

TARGETS = {"systemd": systemd_unit, "supervisor": supervisor_section}


def load(state: StateDir, name: str) -> Record:
    from daemonctl.reconcile import load_record

    record = load_record(state, validate_name(name))
    if record is None:
        raise UsageError(f"no daemon named {name} in {state.path}; list them with daemonctl status")
    return record


def load_set(state: StateDir, name: str) -> tuple[Record, int] | None:
    """The set NAME as one record (export/sets.py) and its size; None if NAME is not a set."""
    from daemonctl.export.sets import set_record
    from daemonctl.sets import set_members

    found = set_members(state, name)
    return set_record(state, name, found) if found else None


def render(kind: str, record: Record, schedule: Schedule, default_pidfile: str | None = None,
           instances: int | None = None) -> tuple[str, list[str]]:
    """The unit or section, and the notes on what it could not express (for stderr); with
    `instances`, of a set (record: load_set)."""
    notes = Notes("#" if kind == "systemd" else ";")
    try:
        text = TARGETS[kind](record, schedule, notes, instances)
    except Unquotable as err:
        raise Failure(f"cannot export {record.name} to {kind}: {err}") from None
    if default_pidfile is not None and record.spec.pidfile != default_pidfile:
        manager = "systemd" if kind == "systemd" else "supervisord"
        text += "".join(f"{line}\n" for line in
                        notes.cannot(f"-p {record.spec.pidfile}: {manager} writes no pidfile"))
    if instances is not None:
        from daemonctl.export.sets import specifiers

        text = specifiers(text, kind)
        notes.lines = [specifiers(line, kind) for line in notes.lines]
    return text, notes.lines
