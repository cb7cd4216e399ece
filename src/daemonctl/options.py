"""Turning what the user typed into a StartSpec: program lookup, paths, defaults."""

from __future__ import annotations

import os
from typing import Any

from daemonctl.errors import NoProgram, ProgramNotFound, UsageError
from daemonctl.start_options import BY_NAME, RECORDED
from daemonctl.start_options import parse_env as parse_env
from daemonctl.start_options import parse_umask as parse_umask
from daemonctl.store.record import Record, StartSpec
from daemonctl.store.statedir import StateDir, validate_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daemonctl.store.safeopen import Rights


class StartOptions:
    """start's options as given (start_options.OPTIONS), and the program.

    `given` holds the options given on the command line, as values; an option not given
    reads as its `unset` value (None, False for a flag), meaning "the default, or the
    record's value". A plain class, built once per start.
    """

    def __init__(self, program: tuple[str, ...] | list[str] = (), **given: Any) -> None:
        for key in given:
            if key not in BY_NAME:
                raise TypeError(f"unknown start option {key!r}")
        self.program = tuple(program)
        self.given = {key: value for key, value in given.items() if _given(value)}

    def __getattr__(self, key: str) -> Any:
        given = self.__dict__.get("given", {})
        if key in given:
            return given[key]
        if key in BY_NAME:
            return BY_NAME[key].unset
        raise AttributeError(key)


def _given(value: Any) -> bool:
    """Whether Click's value for an option means it was given (0 and "" are given values)."""
    if value is None or value is False:
        return False
    return not (isinstance(value, (tuple, list, dict)) and not value)


def parse_given(texts: dict[str, Any]) -> dict[str, Any]:
    """The options' values from what Click made of their texts: each declared `parse` applied
    to the options given (UsageError naming the first bad one)."""
    values = dict(texts)
    for key, value in texts.items():
        parse = BY_NAME[key].parse
        if parse is not None and _given(value):
            values[key] = parse(value)
    return values


def find_program(program: str, path_env: str | None, cwd: str) -> str:
    """The absolute path of PROGRAM: relative to `cwd` when it has a slash, else from PATH."""
    if not program:
        raise ProgramNotFound("the program name is empty")
    if "/" in program:
        path = os.path.normpath(os.path.join(cwd, program))
        _check_executable(path, program)
        return path
    for directory in (path_env if path_env is not None else os.defpath).split(os.pathsep):
        if not directory:
            continue
        candidate = os.path.join(os.path.abspath(directory), program)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise ProgramNotFound(f"program {program!r} not found in PATH")


def _check_executable(path: str, given: str) -> None:
    if not os.path.exists(path):
        raise ProgramNotFound(f"program {given!r} not found")
    if os.path.isdir(path):
        raise ProgramNotFound(f"program {given!r} is a directory")
    if not os.access(path, os.X_OK):
        raise ProgramNotFound(f"program {given!r} is not executable")


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


def recordable(environ: dict[str, str]) -> dict[str, str]:
    """The caller's environment, if it is not too large to be recorded."""
    from daemonctl.store.record import MAX_ENV_BYTES, check_environment

    try:
        check_environment(environ)
    except ValueError:
        raise UsageError(f"the environment is larger than {MAX_ENV_BYTES} bytes: too large to record") from None
    return environ


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
    if spec.restart_delay_max < spec.restart_delay:
        raise UsageError(
            f"--restart-delay-max ({spec.restart_delay_max:g}) is less than --restart-delay ({spec.restart_delay:g})"
        )
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


def env_file_rights(spec: StartSpec) -> Rights | None:
    """Whose rights the env file is read with, where its user can write (see safeopen)."""
    from daemonctl.proc.privileges import for_spec
    from daemonctl.store.safeopen import Rights

    return Rights.of(for_spec(spec.user, spec.group))


def program_env(spec: StartSpec, environ: dict[str, str], account: dict[str, str] | None = None) -> dict[str, str]:
    """The program's environment: the recorded one (else the caller's `environ`), then
    the account's (HOME, USER... of --user), then the env file's, read now, then --env's."""
    from daemonctl.store.envfile import load_env_file

    base = spec.caller_env if spec.caller_env is not None else environ
    file_env = load_env_file(spec.env_file, env_file_rights(spec)) if spec.env_file else {}
    return {**base, **(account or {}), **file_env, **spec.env}
