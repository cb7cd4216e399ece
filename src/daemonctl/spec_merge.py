"""A start's StartSpec: the options given on the command line merged over the record, or over the defaults.

Each option merges as start_options.py declares it; the checks of options that only make
sense together (`needs`, the delay cap, readiness) run on the merged spec.
"""

from __future__ import annotations

import os
from typing import Any

from daemonctl.errors import NoProgram, UsageError
from daemonctl.options import StartOptions
from daemonctl.program_env import env_file_rights, recordable
from daemonctl.program_path import find_program
from daemonctl.start_options import BY_NAME, RECORDED
from daemonctl.store.record import Record, StartSpec
from daemonctl.store.statedir import StateDir, validate_name


def default_name(program: tuple[str, ...]) -> str:
    base = os.path.basename(program[0].rstrip("/")) if program else ""
    try:
        return validate_name(base)
    except UsageError:
        raise UsageError(f"cannot use {base!r} as a name: give one with -n NAME") from None


def build_spec(
    opts: StartOptions,
    state: StateDir,
    recorded: Record | None,
    cwd: str,
    environ: dict[str, str],
) -> tuple[str, StartSpec]:
    """The daemon's name and spec: from the command line, else from its record."""
    name = validate_name(opts.name) if opts.name is not None else default_name(opts.program)
    if opts.program:
        path_env = opts.env.get("PATH", environ.get("PATH")) if opts.env else environ.get("PATH")
        pidfile, stdout = str(state.pidfile(name)), str(state.log(name))
        spec = StartSpec(
            command=list(opts.program),
            executable=find_program(opts.program[0], path_env, cwd),
            pidfile=pidfile,
            stdout=stdout,
            stderr=stdout,
            caller_env=recordable(environ),
        )
        return name, checked(override(spec, opts, cwd), opts)
    if recorded is None:
        raise NoProgram(f"no program given and no record of {name!r}; start it with daemonctl start -n {name} PROGRAM [ARG]...")
    spec = inherited(recorded.spec, environ, opts.update_env)
    return name, checked(override(spec, opts, cwd), opts)


def inherited(spec: StartSpec, environ: dict[str, str], update: bool) -> StartSpec:
    """`spec` started again: with its recorded environment, or the caller's when asked
    (--update-env) or when the record has none."""
    if update or spec.caller_env is None:
        return spec._replace(caller_env=recordable(environ))
    return spec


def override(spec: StartSpec, opts: StartOptions, cwd: str) -> StartSpec:
    """The recorded spec with every option given on this command line merged over it, as
    each is declared to merge (start_options.py)."""
    changes: dict[str, Any] = {}  # StartSpec's fields by name
    for option in RECORDED:
        if option.name in opts.given:
            changes[option.name] = option.merge(getattr(spec, option.name), opts.given[option.name], cwd)
    if "stdout" in changes and "stderr" not in changes and spec.stderr == spec.stdout:
        changes["stderr"] = changes["stdout"]  # stderr follows stdout into its new file
    return spec._replace(**changes)


def checked(spec: StartSpec, opts: StartOptions) -> StartSpec:
    """`spec` if its supervision and readiness options make sense together; else UsageError.

    An env file given now must be readable and parse now.
    """
    if opts.env_file is not None and spec.env_file is not None:
        from daemonctl.store.envfile import load_env_file

        load_env_file(spec.env_file, env_file_rights(spec))
    for option in RECORDED:
        if option.needs is not None and option.name in opts.given and not getattr(spec, option.needs):
            raise UsageError(f"{option.flag} needs {BY_NAME[option.needs].flag}")
    if spec.forking and spec.respawn is not None and (spec.instances is not None or spec.instance is not None):
        raise UsageError("--forking does not work with --instances and --respawn together: the set's one "
                         "supervisor runs programs that stay in the foreground")
    if spec.log_writer and spec.respawn is not None and (spec.instances is not None or spec.instance is not None):
        # The set's one supervisor (supervise/pool_resident.py) writes no logs: the options would be lost.
        raise UsageError("--log-max-size, --log-timestamps and --syslog do not work with --instances and --respawn "
                         "together yet; start the set without --respawn, or its daemons one by one")
    if spec.restart_delay_max < spec.restart_delay:
        raise UsageError(
            f"--restart-delay-max ({spec.restart_delay_max:g}) is less than --restart-delay ({spec.restart_delay:g})"
        )
    if spec.ready_log is not None and spec.stdout == os.devnull and spec.stderr == os.devnull:
        # The lines are the writer's to hand to syslog, a copy sent off that no one reads back.
        raise UsageError(f"--ready-log needs a log to watch, and stdout and stderr both go to {os.devnull}"
                         f"{' (--syslog only sends a copy away)' if spec.syslog is not None else ''}: "
                         "give -o or -e a file")
    if spec.ready_port is not None or spec.ready_log is not None:
        import re

        from daemonctl.readiness import parse_port

        try:
            if spec.ready_port is not None:
                parse_port(spec.ready_port)
            if spec.ready_log is not None:
                re.compile(spec.ready_log)
        except re.error as err:
            raise UsageError(f"--ready-log: invalid regular expression {spec.ready_log!r}: {err}") from None
        except ValueError as err:
            raise UsageError(str(err)) from None
    return spec


def with_command(spec: StartSpec, program: tuple[str, ...], cwd: str, environ: dict[str, str]) -> StartSpec:
    """`spec` running another command (restart NAME -- PROGRAM ...), looked up in the PATH it will have."""
    path_env = spec.env.get("PATH", (spec.caller_env if spec.caller_env is not None else environ).get("PATH"))
    return spec._replace(command=list(program), executable=find_program(program[0], path_env, cwd))
