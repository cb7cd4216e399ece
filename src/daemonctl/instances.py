"""Sets of instances (`start --instances N`): names, `%i`, the template and the plans. Pure logic.

A set NAME is the daemons NAME@1 ... NAME@N, each an ordinary daemon with its record,
pidfile and log. Each instance's record also holds `instance` (its number), `instances`
(the size of the set when it was started) and `template`: the per-instance options and
the command as given, with `%i` still in them, so that the set can grow later
(`start -n NAME --instances M` without PROGRAM) and be exported as a template.

Nothing here touches a file or a process: sets.py runs the plans made here.
"""

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from daemonctl.errors import UsageError
from daemonctl.limits import MAX_INSTANCES
from daemonctl.speedups import NamedTuple
from daemonctl.start_options import DERIVED, PATH, PER_INSTANCE
from daemonctl.store.statedir import validate_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daemonctl.store.record import StartSpec

INSTANCE_RE = re.compile(r"(?P<set>[^@]+)@(?P<number>[1-9][0-9]{0,3})")
INSTANCE_ENV = "DAEMONCTL_INSTANCE"
INSTANCES_ENV = "DAEMONCTL_INSTANCES"
# The template's keys: the command, then every option declared per_instance (start_options.py).
TEMPLATE_KEYS = ("command", *(option.name for option in PER_INSTANCE))


def substitute(text: str, number: int | str) -> str:
    """`text` with `%i` as `number` and `%%` as `%`; any other `%` stays as it is."""
    if "%" not in text:
        return text
    out, i = [], 0
    while i < len(text):
        pair = text[i:i + 2]
        if pair == "%i":
            out.append(str(number))
            i += 2
        elif pair == "%%":
            out.append("%")
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def escape(text: str) -> str:
    """`text` as a template holds it literally (every `%` doubled)."""
    return text.replace("%", "%%")


def check_count(count: int) -> int:
    if not 1 <= count <= MAX_INSTANCES:
        raise UsageError(f"--instances takes a whole number from 1 to {MAX_INSTANCES}, not {count}")
    return count


def set_name(name: str) -> str:
    """NAME as the name of a set: a valid name without `@` (UsageError if not)."""
    validate_name(name)
    if "@" in name:
        raise UsageError(f"the name of a set of instances holds no '@' (its instances are NAME@1, NAME@2 ...): {name!r}")
    return name


def instance_name(set_: str, number: int) -> str:
    return f"{set_}@{number}"


def split(name: str) -> tuple[str, int] | None:
    """(set, number) of an instance's name NAME@i; None for any other name."""
    match = INSTANCE_RE.fullmatch(name)
    if match is None or int(match["number"]) > MAX_INSTANCES:
        return None
    return match["set"], int(match["number"])


def members(names: Iterable[str], set_: str) -> dict[int, str]:
    """The instances of `set_` among `names` (a state directory's), by number, in order."""
    found = {}
    for name in names:
        parts = split(name)
        if parts is not None and parts[0] == set_:
            found[parts[1]] = name
    return dict(sorted(found.items()))


# The template ---------------------------------------------------------------------------

Template = dict[str, Any]


def template_of(program: tuple[str, ...], given: Mapping[str, Any], set_: str, state_path: str, cwd: str) -> Template:
    """The template of a set started now: PROGRAM and the per-instance options as given
    (paths made absolute), the others at their defaults, written with `%i`."""
    default_log = os.path.join(escape(state_path), f"{set_}@%i.log")
    template: Template = {"command": list(program)}
    for option in PER_INSTANCE:
        if option.name in given:
            value = given[option.name]
            template[option.name] = _absolute(value, cwd) if option.kind == PATH else value
        elif option.default is DERIVED:
            template[option.name] = None  # filled in below
        else:
            template[option.name] = option.default
    template["pidfile"] = template["pidfile"] or os.path.join(escape(state_path), f"{set_}@%i.pid")
    template["stdout"] = template["stdout"] or default_log
    template["stderr"] = template["stderr"] or template["stdout"]
    return template


def template_over(template: Template, given: Mapping[str, Any], cwd: str) -> Template:
    """A recorded template with the per-instance options given now merged over it."""
    new = dict(template)
    for option in PER_INSTANCE:
        if option.name not in given:
            continue
        value = given[option.name]
        if option.kind == PATH:
            value = _absolute(value, cwd)
        elif isinstance(value, dict):
            value = {**template.get(option.name, {}), **value}
        new[option.name] = value
    if "stdout" in given and "stderr" not in given and template.get("stderr") == template.get("stdout"):
        new["stderr"] = new["stdout"]  # stderr follows stdout into its new file, as for one daemon
    return new


def _absolute(path: str, cwd: str) -> str:
    if path == "":
        raise UsageError("an empty path was given")
    return os.path.normpath(os.path.join(escape(cwd), path))


def instance_options(template: Template, number: int | str) -> dict[str, Any]:
    """The per-instance options of instance `number`, `%i` replaced."""
    values: dict[str, Any] = {}
    for option in PER_INSTANCE:
        value = template.get(option.name)
        if isinstance(value, str):
            value = substitute(value, number)
        elif isinstance(value, dict):
            value = {key: substitute(text, number) for key, text in value.items()}
        values[option.name] = value
    return values


def instance_command(command: list[str] | tuple[str, ...], number: int | str) -> list[str]:
    """PROGRAM [ARG]... of instance `number`: `%i` replaced in the arguments, not in PROGRAM."""
    return [command[0], *(substitute(arg, number) for arg in command[1:])]


def instance_spec(base: "StartSpec", template: Template, number: int, count: int) -> "StartSpec":
    """Instance `number` of a set of `count`: `base` (its other options) with the template's
    per-instance values and arguments for `number`, and DAEMONCTL_INSTANCE(S) in --env."""
    values = instance_options(template, number)
    values["env"] = {**values["env"], INSTANCE_ENV: str(number), INSTANCES_ENV: str(count)}
    return base._replace(
        command=instance_command(template["command"], number), instance=number, instances=count,
        template=template, **values,
    )


# The plans ------------------------------------------------------------------------------


class ScalePlan(NamedTuple):
    """What `start -n NAME --instances M` does to a set."""

    start: list[int]  # numbers 1..M that do not run: started
    keep: list[int]  # numbers 1..M that run: left alone
    drop: list[int]  # numbers above M: stopped and removed


def plan_scale(running: Iterable[int], recorded: Iterable[int], count: int) -> ScalePlan:
    """The plan that makes the set run instances 1..`count` exactly.

    `running`: the numbers whose instance runs; `recorded`: every number with a record.
    """
    up = set(running)
    known = set(recorded) | up
    return ScalePlan(
        start=[i for i in range(1, count + 1) if i not in up],
        keep=[i for i in range(1, count + 1) if i in up],
        drop=sorted(i for i in known if i > count),
    )


class Outcome(NamedTuple):
    """How one instance's step of a rolling restart went."""

    number: int
    error: Exception | None = None


def roll(numbers: Iterable[int], restart_one: Any) -> list[Outcome]:
    """Restart the instances one at a time, in order, and stop at the first that fails.

    `restart_one(number)` restarts one and returns once it is ready, or raises. The
    outcomes of those restarted, the failed one last; the rest are not touched.
    """
    outcomes = []
    for number in numbers:
        try:
            restart_one(number)
        except Exception as err:
            outcomes.append(Outcome(number, err))
            break
        outcomes.append(Outcome(number))
    return outcomes


def set_exit(states_exit: Iterable[int]) -> int:
    """`status` of a set from its instances' exit statuses, as the contract has it: 0 if all run,
    1 if any is dead, else 3 (an instance whose state is unknown is listed as such)."""
    codes = list(states_exit)
    if codes and all(code == 0 for code in codes):
        return 0
    if 1 in codes:
        return 1
    return 3
