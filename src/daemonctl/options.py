"""Turning what the user typed into a StartSpec: program lookup, paths, defaults."""

from __future__ import annotations

import os
from typing import Any

from daemonctl.errors import NoProgram, ProgramNotFound, UsageError
from daemonctl.store.record import Record, StartSpec
from daemonctl.store.statedir import StateDir, validate_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daemonctl.store.safeopen import Rights


class StartOptions:
    """start's options as given; None means "not given" (default, or the record's value).

    A plain class whose annotated class attributes are the defaults: it is built
    once per start, and defining a 23-field NamedTuple or dataclass costs start
    more than the rest of its own work.
    """

    name: str | None = None
    program: tuple[str, ...] = ()
    pidfile: str | None = None
    stdout: str | None = None
    stderr: str | None = None
    chdir: str | None = None
    umask: int | None = None
    env: dict[str, str] = {}  # never changed in place: every change builds a new dict
    wait: float | None = None
    env_file: str | None = None
    respawn: str | None = None
    restart_delay: float | None = None
    restart_delay_max: float | None = None
    min_uptime: float | None = None
    max_restarts: int | None = None
    ready_file: str | None = None
    ready_port: str | None = None
    ready_log: str | None = None
    notify: bool = False
    ready_timeout: float | None = None
    user: str | None = None
    group: str | None = None
    nice: int | None = None
    update_env: bool = False  # inherit the caller's environment, not the recorded one

    def __init__(self, **given: Any) -> None:
        for key, value in given.items():
            if key not in StartOptions.__annotations__:
                raise TypeError(f"unknown start option {key!r}")
            setattr(self, key, value)


RESPAWN_OPTIONS = ("restart_delay", "restart_delay_max", "min_uptime", "max_restarts")
READY_OPTIONS = ("ready_port", "ready_log", "ready_timeout")  # ready_file is a path


def parse_env(items: tuple[str, ...] | list[str]) -> dict[str, str]:
    env = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or "\0" in item:
            raise UsageError(f"--env takes KEY=VALUE, not {item!r}")
        env[key] = value
    return env


def parse_umask(text: str) -> int:
    try:
        value = int(text, 8)
    except ValueError:
        raise UsageError(f"--umask takes an octal mode such as 022, not {text!r}") from None
    if not 0 <= value <= 0o777:
        raise UsageError(f"--umask {text!r} is out of range (000-777)")
    return value


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
        env = opts.env
        path_env = env.get("PATH", environ.get("PATH"))
        spec = StartSpec(
            command=list(opts.program),
            executable=find_program(opts.program[0], path_env, cwd),
            pidfile=_abs(opts.pidfile, cwd) or str(state.pidfile(name)),
            stdout=_abs(opts.stdout, cwd) or str(state.log(name)),
            stderr="",
            chdir=_abs(opts.chdir, cwd) or "/",
            umask=0o022 if opts.umask is None else opts.umask,
            env=env,
            env_file=_env_file(opts.env_file, cwd),
            user=opts.user,
            group=opts.group,
            nice=opts.nice,
            caller_env=recordable(environ),
        )
        spec = spec._replace(stderr=_abs(opts.stderr, cwd) or spec.stdout)
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
    """The recorded spec with every option given on this command line applied over it."""
    changes: dict[str, Any] = {}  # StartSpec's fields by name, many read with getattr
    for key in ("pidfile", "stdout", "stderr", "chdir"):
        value = getattr(opts, key)
        if value is not None:
            changes[key] = _abs(value, cwd)
    if opts.stdout is not None and opts.stderr is None and spec.stderr == spec.stdout:
        changes["stderr"] = changes["stdout"]
    if opts.umask is not None:
        changes["umask"] = opts.umask
    for key in ("wait", "respawn", "user", "group", "nice", *RESPAWN_OPTIONS, *READY_OPTIONS):
        if getattr(opts, key) is not None:
            changes[key] = getattr(opts, key)
    if opts.ready_file is not None:
        changes["ready_file"] = _abs(opts.ready_file, cwd)
    if opts.notify:
        changes["notify"] = True
    if opts.env:
        changes["env"] = {**spec.env, **opts.env}
    if opts.env_file is not None:
        changes["env_file"] = _env_file(opts.env_file, cwd)
    return spec._replace(**changes)


def checked(spec: StartSpec, opts: StartOptions) -> StartSpec:
    """`spec` if its supervision and readiness options make sense together; else UsageError.

    An env file given now must be readable and parse now.
    """
    if opts.env_file is not None and spec.env_file is not None:
        from daemonctl.store.envfile import load_env_file

        load_env_file(spec.env_file, env_file_rights(spec))
    if spec.respawn is None:
        given = [key for key in RESPAWN_OPTIONS if getattr(opts, key) is not None]
        if given:
            raise UsageError(f"--{given[0].replace('_', '-')} needs --respawn")
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


def _env_file(path: str | None, cwd: str) -> str | None:
    """The absolute path of an env file (`checked` reads it, as the daemon's user where that matters)."""
    if path is None:
        return None
    if path == "":
        raise UsageError("--env-file: an empty path was given")
    return os.path.normpath(os.path.join(cwd, path))


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


def _abs(path: str | None, cwd: str) -> str | None:
    if path is None:
        return None
    if path == "":
        raise UsageError("an empty path was given")
    return os.path.normpath(os.path.join(cwd, path))
