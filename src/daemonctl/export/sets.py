"""export of a set of instances: one template for all of them, a systemd template unit
`NAME@.service` or a supervisord section with `numprocs`.

The set's template (instances.py) is rendered as one instance whose number is a
placeholder word, which each target's quoting leaves alone; the placeholder then becomes
the target's own specifier (`%i`, `%(process_num)d`), after the `%` of the values were
escaped for it.
"""

from __future__ import annotations

from daemonctl.errors import Failure
from daemonctl.instances import INSTANCE_ENV, INSTANCES_ENV, instance_command, instance_options
from daemonctl.store.record import Record
from daemonctl.store.statedir import StateDir

PLACEHOLDER = "DaemonctlInstanceNumber7f3a"
SPECIFIER = {"systemd": "%i", "supervisor": "%(process_num)d"}


def set_record(state: StateDir, name: str, members: dict[int, str]) -> tuple[Record, int]:
    """The set as one record whose number is PLACEHOLDER, and its size (its highest number)."""
    from daemonctl.reconcile import load_record

    record = None
    for member in members.values():
        record = load_record(state, member)
        if record is not None and record.spec.template is not None:
            break
    if record is None or record.spec.template is None:
        raise Failure(f"cannot export the set {name}: no record of its instances holds its template")
    template, count = record.spec.template, max(members)
    values = instance_options(template, PLACEHOLDER)
    values["env"] = {**values["env"], INSTANCE_ENV: PLACEHOLDER, INSTANCES_ENV: str(count)}
    spec = record.spec._replace(command=instance_command(template["command"], PLACEHOLDER),
                                instance=None, instances=count, template=None, **values)
    return Record(name, spec), count


def specifiers(text: str, kind: str) -> str:
    """`text` with the placeholder as the target's instance specifier."""
    return text.replace(PLACEHOLDER, SPECIFIER[kind])


def default_pidfile(state: StateDir, name: str) -> str:
    return state.pidfile(f"{name}@{PLACEHOLDER}")
