"""Operations on a set of instances (NAME@1 ... NAME@N): start and scale, stop, status, signal,
remove and the rolling restart. The names, templates and plans are instances.py's; each
instance is started, stopped or restarted by the single-daemon operations.
"""

import os
from collections.abc import Callable
from typing import Any

from daemonctl.errors import DaemonctlError, Failure, NoProgram, SignalNotRunning, StartInterrupted, UsageError
from daemonctl.instances import (
    Outcome,
    ScalePlan,
    instance_command,
    instance_name,
    instance_options,
    instance_spec,
    members,
    plan_scale,
    roll,
    set_name,
    template_of,
    template_over,
)
from daemonctl.interrupts import Interrupted, InterruptGuard
from daemonctl.options import StartOptions
from daemonctl.reconcile import inspect, load_record, named, trusted
from daemonctl.spec_merge import build_spec, checked, default_name, inherited, override
from daemonctl.speedups import NamedTuple
from daemonctl.start_options import PER_INSTANCE
from daemonctl.states import ACTIVE
from daemonctl.store.record import Record, StartSpec
from daemonctl.store.statedir import StateDir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daemonctl.progress import Progress
    from daemonctl.schedule import Schedule
    from daemonctl.start import StartResult
    from daemonctl.status import Report
    from daemonctl.stop import SignalResult, StopResult

PER_INSTANCE_NAMES = frozenset(option.name for option in PER_INSTANCE)


def set_members(state: StateDir, name: str) -> dict[int, str] | None:
    """The instances of the set NAME by number, if NAME is a set: no daemon of that name,
    and instances NAME@i recorded. None otherwise (NAME is one daemon, or unknown)."""
    if "@" in name or os.path.lexists(state.record(name)):
        return None
    found = members(state.names(), name)
    return found or None


def _running(state: StateDir, name: str) -> bool:
    try:
        return trusted(inspect(named(state, name))).state in ACTIVE
    except DaemonctlError:
        return False


# start and scale --------------------------------------------------------------------------


class SetStart(NamedTuple):
    name: str
    plan: ScalePlan
    started: list["StartResult"]
    stopped: list["StopResult"]  # of the instances numbered above the new size, which are removed too


def start_set(
    state: StateDir,
    opts: StartOptions,
    schedule: "Schedule",
    progress: "Progress | None" = None,
    *,
    starter: Callable[[StateDir, str, StartSpec, "Progress | None"], "StartResult"] | None = None,
) -> SetStart:
    """`start --instances M`: start NAME@1..NAME@M where they do not run, stop and remove those above M.

    Every instance's spec is built and checked before anything starts; if one fails to start,
    the instances this command started are stopped and removed again and the error raised.
    `starter`: a test's stand-in for start.start_spec.
    """
    from daemonctl.start import start_spec

    start_one = starter or start_spec
    name = set_name(opts.name if opts.name is not None else default_name(opts.program))
    if os.path.lexists(state.record(name)):
        raise Failure(f"{name} is a daemon of its own, not a set of instances; give the set another name with -n NAME")
    found = members(state.names(), name)
    records = {i: load_record(state, member) for i, member in found.items()}
    count = opts.instances or (max(found) if found else 1)
    specs_of = _specs(state, name, opts, records, count)
    first = specs_of(1)
    running = [i for i, member in found.items() if _running(state, member)]
    plan = plan_scale(running, found, count)
    specs = {i: specs_of(i) for i in plan.start}  # all built (and checked) before anything runs
    if opts.program:
        _check_same_command(name, plan.keep, records, first)
    stopped = stop_instances(state, [found[i] for i in plan.drop], schedule)
    for i in plan.drop:
        _forget(state, found[i])
    started: list[StartResult] = []
    # SIGINT, SIGTERM or SIGHUP between two instances is held back until the next one is started,
    # then undoes the start as a failure would (during an instance's own wait, start_locked's does).
    with InterruptGuard() as interrupts:
        for i in plan.start:
            try:
                interrupts.check()
                started.append(start_one(state, instance_name(name, i), specs[i], progress))
                interrupts.check()
            except (DaemonctlError, Interrupted) as err:
                fresh = [r.name for r in started if not r.already_running]
                stop_instances(state, fresh, schedule)
                for member in fresh:
                    _forget(state, member)
                if isinstance(err, Interrupted):
                    raise StartInterrupted(f"start of the set {name} interrupted by {_signal_name(err.signum)}: "
                                           "stopped the instances it had started", err.signum) from None
                raise
    return SetStart(name, plan, started, stopped)


def _signal_name(signum: int) -> str:
    from daemonctl.signals import signal_name

    return signal_name(signum)


def _specs(
    state: StateDir, name: str, opts: StartOptions, records: dict[int, Record | None], count: int
) -> Callable[[int], StartSpec]:
    """The spec of each instance number: from PROGRAM and the options given, else from the set's records."""
    cwd, environ = os.getcwd(), dict(os.environ)
    given = {key: value for key, value in opts.given.items() if key not in PER_INSTANCE_NAMES and key != "name"}
    per_instance = {key: value for key, value in opts.given.items() if key in PER_INSTANCE_NAMES}
    if opts.program:
        template = template_of(opts.program, per_instance, name, state.path, cwd)
        first = StartOptions(program=tuple(instance_command(opts.program, 1)), name=instance_name(name, 1),
                             **given, **{k: v for k, v in instance_options(template, 1).items() if v})
        base = build_spec(first, state, None, cwd, environ)[1]
    else:
        recorded = [rec for rec in records.values() if rec is not None and rec.spec.template is not None]
        if not recorded:
            raise NoProgram(f"no program given and no record of the set {name!r}; start it with "
                            f"daemonctl start -n {name} --instances N PROGRAM [ARG]...")
        lowest = recorded[0]
        assert lowest.spec.template is not None
        template = template_over(lowest.spec.template, per_instance, cwd)
        base = checked(override(inherited(lowest.spec, environ, opts.update_env), StartOptions(**given), cwd),
                       StartOptions(**given))

    def spec_of(number: int) -> StartSpec:
        spec = instance_spec(base, template, number, count)
        try:
            return checked(spec, StartOptions())
        except UsageError as err:
            raise UsageError(f"{instance_name(name, number)}: {err.message}") from None

    return spec_of


def _check_same_command(name: str, keep: list[int], records: dict[int, Record | None], asked: StartSpec) -> None:
    from daemonctl.start import same_command

    assert asked.template is not None
    for i in keep:
        rec = records.get(i)
        # Instance i's own command: from the template (asked's command has instance 1's number in it).
        mine = asked._replace(command=instance_command(asked.template["command"], i))
        if rec is not None and not same_command(rec.spec, mine):
            raise Failure(
                f"{instance_name(name, i)} is already running another command; start this one under a name "
                f"of its own with -n NAME, or replace it with daemonctl restart {name} -- PROGRAM [ARG]..."
            )


def _forget(state: StateDir, name: str) -> None:
    from daemonctl.stop import forget

    forget(state, name)


# stop, status, signal, remove -------------------------------------------------------------


def stop_instances(state: StateDir, names: list[str], schedule: "Schedule") -> list["StopResult"]:
    """Stop every one of `names` at once (one thread each); the first error is raised once all are done."""
    from concurrent.futures import ThreadPoolExecutor

    from daemonctl.stop import stop

    if not names:
        return []
    with ThreadPoolExecutor(max_workers=min(len(names), 64)) as pool:
        futures = [pool.submit(stop, state, member, None, schedule) for member in names]
    results, errors = [], []
    for future in futures:
        err = future.exception()
        if err is None:
            results.append(future.result())
        else:
            errors.append(err)
    if errors:
        raise errors[0]
    return results


def stop_set(state: StateDir, name: str, schedule: "Schedule") -> list["StopResult"]:
    found = set_members(state, name) or {}
    return stop_instances(state, list(found.values()), schedule)


def status_set(state: StateDir, name: str) -> list["Report"]:
    from daemonctl.states import UNKNOWN
    from daemonctl.status import Report, report

    reports = []
    for member in (set_members(state, name) or {}).values():
        try:
            reports.append(report(trusted(inspect(named(state, member)))))
        except DaemonctlError as err:
            reports.append(Report(member, UNKNOWN, None, state.pidfile(member), [], None, None, None, error=err.message))
    return reports


def signal_set(state: StateDir, name: str, sig: int) -> list["SignalResult"]:
    """`sig` to every instance that runs; SignalNotRunning if none does."""
    from daemonctl.stop import send_signal

    sent = []
    for member in (set_members(state, name) or {}).values():
        try:
            sent.append(send_signal(state, member, None, sig))
        except SignalNotRunning:
            continue
    if not sent:
        raise SignalNotRunning(f"no instance of {name} is running; start them with daemonctl start -n {name}")
    return sent


def remove_set(state: StateDir, name: str) -> list[str]:
    """Forget every instance, or none: refused while any of them runs."""
    found = set_members(state, name) or {}
    up = [member for member in found.values() if _running(state, member)]
    if up:
        raise Failure(f"{', '.join(up)} still running; stop them first with daemonctl stop {name}")
    for member in found.values():
        _forget(state, member)
    return list(found.values())


# the rolling restart ----------------------------------------------------------------------


class Rolled(NamedTuple):
    name: str
    results: list["StartResult"]
    failed: Outcome | None  # the instance that did not come back, and why

    def failure(self) -> Failure | None:
        """What the roll ends with when an instance did not come back (exit 1, its log's tail); None if all did."""
        if self.failed is None:
            return None
        err = self.failed.error
        why = err.message if isinstance(err, DaemonctlError) else str(err)
        return Failure(f"rolling restart of {self.name} stopped at {self.name}@{self.failed.number}, which did not "
                       f"come back ({why}); the instances after it were left as they were",
                       err.log_tail if isinstance(err, DaemonctlError) else None)


def restart_set(
    state: StateDir,
    name: str,
    program: tuple[str, ...],
    schedule: "Schedule",
    update_env: bool = False,
    progress: "Progress | None" = None,
    *,
    restarter: Callable[..., "StartResult"] | None = None,
) -> Rolled:
    """Restart the instances one at a time, each ready before the next is stopped; stop at the first
    that fails to come back, leaving the others as they are. `restarter`: a test's stand-in."""
    from daemonctl.start import restart

    restart_one = restarter or restart
    found = set_members(state, name) or {}
    results: list[StartResult] = []

    def one(number: int) -> Any:
        results.append(restart_one(state, found[number], program, schedule, update_env, progress))

    outcomes = roll(found, one)
    failed = outcomes[-1] if outcomes and outcomes[-1].error is not None else None
    return Rolled(name, results, failed)


def require_set(state: StateDir, name: str) -> dict[int, str]:
    found = set_members(state, name)
    if found is None:
        raise UsageError(f"no daemon or set named {name} in {state.path}; list them with daemonctl status")
    return found
