"""The program's environment: the caller's as recorded, the account's, the env file's and --env's."""

from __future__ import annotations

from daemonctl.errors import UsageError
from daemonctl.store.record import MAX_ENV_BYTES, StartSpec, check_environment

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daemonctl.store.safeopen import Rights


def recordable(environ: dict[str, str]) -> dict[str, str]:
    """The caller's environment, if it is not too large to be recorded."""
    try:
        check_environment(environ)
    except ValueError:
        raise UsageError(f"the environment is larger than {MAX_ENV_BYTES} bytes: too large to record") from None
    return environ


def env_file_rights(spec: StartSpec) -> Rights | None:
    """Whose rights the env file is read with, where its user can write (see safeopen)."""
    from daemonctl.proc.privileges import credentials_of
    from daemonctl.store.safeopen import Rights

    return Rights.of(credentials_of(spec.user, spec.group))


def program_env(spec: StartSpec, environ: dict[str, str], account: dict[str, str] | None = None) -> dict[str, str]:
    """The program's environment: the recorded one (else the caller's `environ`), then
    the account's (HOME, USER... of --user), then the env file's, read now, then --env's."""
    base = spec.caller_env if spec.caller_env is not None else environ
    file_env: dict[str, str] = {}
    if spec.env_file:
        from daemonctl.store.envfile import load_env_file

        file_env = load_env_file(spec.env_file, env_file_rights(spec))
    return {**base, **(account or {}), **file_env, **spec.env}
