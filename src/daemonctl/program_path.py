"""Where PROGRAM is: a path against the caller's working directory, or a name looked up in PATH."""

from __future__ import annotations

import os

from daemonctl.errors import ProgramNotFound


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
