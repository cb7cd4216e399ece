"""Turning what the user typed into a StartSpec: program lookup, paths, defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import NoProgram, ProgramNotFound, UsageError
from .record import Record, StartSpec
from .state import StateDir, validate_name


@dataclass(frozen=True)
class StartOptions:
    """start's options as given; None means "not given" (default, or the record's value)."""

    name: str | None = None
    program: tuple[str, ...] = ()
    pidfile: str | None = None
    stdout: str | None = None
    stderr: str | None = None
    chdir: str | None = None
    umask: int | None = None
    env: dict[str, str] = field(default_factory=dict)
    wait: float | None = None
    user: str | None = None
    group: str | None = None
    nice: int | None = None


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
            wait=opts.wait or 0.0,
            user=opts.user,
            group=opts.group,
            nice=opts.nice,
        )
        return name, replace(spec, stderr=_abs(opts.stderr, cwd) or spec.stdout)
    if recorded is None:
        raise NoProgram(f"no program given and no record of {name!r}")
    return name, override(recorded.spec, opts, cwd)


def override(spec: StartSpec, opts: StartOptions, cwd: str) -> StartSpec:
    """The recorded spec with every option given on this command line applied over it."""
    changes: dict[str, object] = {}
    for key in ("pidfile", "stdout", "stderr", "chdir"):
        value = getattr(opts, key)
        if value is not None:
            changes[key] = _abs(value, cwd)
    if opts.stdout is not None and opts.stderr is None and spec.stderr == spec.stdout:
        changes["stderr"] = changes["stdout"]
    if opts.umask is not None:
        changes["umask"] = opts.umask
    for key in ("wait", "user", "group", "nice"):
        if getattr(opts, key) is not None:
            changes[key] = getattr(opts, key)
    if opts.env:
        changes["env"] = {**spec.env, **opts.env}
    return replace(spec, **changes)  # type: ignore[arg-type]


def with_command(spec: StartSpec, program: tuple[str, ...], cwd: str, environ: dict[str, str]) -> StartSpec:
    """`spec` running another command (restart NAME -- PROGRAM ...)."""
    path_env = spec.env.get("PATH", environ.get("PATH"))
    return replace(spec, command=list(program), executable=find_program(program[0], path_env, cwd))


def _abs(path: str | None, cwd: str) -> str | None:
    if path is None:
        return None
    if path == "":
        raise UsageError("an empty path was given")
    return os.path.normpath(os.path.join(cwd, path))
