"""Whom the program runs as: --user, --group, --nice, resolved and applied.

Resolution happens in daemonctl before anything is written; applying happens in
the grandchild right before exec, after its stdio is set up, so that logs and
pidfile are opened by the caller (root) in places the caller controls.
"""

import os

from daemonctl.errors import PrivilegeError, UsageError
from daemonctl.speedups import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    import pwd
    from typing import overload  # typing, 0.9 MB, stays out of the resident supervisor


class Credentials(NamedTuple):
    uid: int
    gid: int
    user: str | None  # login name, for initgroups; None keeps no supplementary group but gid
    home: str | None = None
    shell: str | None = None
    # The supplementary groups, once resolved (see `pinned`); None: looked up (initgroups) at the switch.
    groups: tuple[int, ...] | None = None

    def environment(self) -> dict[str, str]:
        """HOME, USER, LOGNAME and SHELL as the password database has them."""
        if self.user is None:
            return {}
        env = {"USER": self.user, "LOGNAME": self.user}
        if self.home:
            env["HOME"] = self.home
        if self.shell:
            env["SHELL"] = self.shell
        return env


def split_user(text: str) -> tuple[str, str | None]:
    """`USER[:GROUP]` into its parts."""
    user, sep, group = text.partition(":")
    if not user or (sep and not group):
        raise UsageError(f"--user takes USER or USER:GROUP, not {text!r}")
    return user, group if sep else None


def resolve(user: str | None, group: str | None) -> Credentials | None:
    """The credentials asked for (names or numbers); None when neither was given."""
    if user is None:
        return None if group is None else Credentials(os.geteuid(), _group_id(group), None)
    gid = None if group is None else _group_id(group)
    entry = _passwd(user)
    if entry is None:
        if gid is None:
            raise UsageError(f"user {user!r} has no entry in the password database: give its group too")
        return Credentials(int(user), gid, None)
    return Credentials(entry.pw_uid, entry.pw_gid if gid is None else gid, entry.pw_name, entry.pw_dir, entry.pw_shell)


def _passwd(user: str) -> "pwd.struct_passwd | None":
    import pwd  # only with --user: 0.2 ms of every start otherwise

    try:
        return pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
    except (KeyError, OverflowError):
        if user.isdigit() and int(user) < 2**32 - 1:
            return None
        raise UsageError(f"unknown user {user!r}") from None


def _group_id(group: str) -> int:
    if group.isdigit():
        gid = int(group)
        if gid >= 2**32 - 1:
            raise UsageError(f"group id {group} is out of range")
        return gid
    import grp

    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise UsageError(f"unknown group {group!r}") from None


def credentials_to_switch(creds: Credentials | None) -> Credentials | None:
    """The credentials to switch to, None when the caller already has them.

    Only root may become someone else: anyone else gets exit 4 instead of a
    failure deep inside the forked child.
    """
    if creds is None:
        return None
    if os.geteuid() == 0:
        return creds
    if creds.uid == os.geteuid() and creds.gid == os.getegid():
        return None
    raise PrivilegeError(
        f"only root can run a program as another user or group (asked for uid {creds.uid}, "
        f"gid {creds.gid}; running as uid {os.geteuid()}, gid {os.getegid()})"
    )


if TYPE_CHECKING:

    @overload
    def pinned(creds: Credentials) -> Credentials: ...

    @overload
    def pinned(creds: None) -> None: ...


def pinned(creds: Credentials | None) -> Credentials | None:
    """`creds` with their supplementary groups resolved now, for use long after.

    The resident supervisor switches to these numbers at every restart, so removing
    the user from the password or group database meanwhile changes nothing (as for a
    process that already runs as that user).
    """
    if creds is None or creds.groups is not None:
        return creds
    groups: list[int] = [creds.gid]
    if creds.user is not None:
        try:
            groups = os.getgrouplist(creds.user, creds.gid)
        except OSError:
            pass
    return creds._replace(groups=tuple(dict.fromkeys(groups)))


def set_nice(nice: int | None) -> None:  # pragma: no cover - runs in the grandchild
    if nice is not None:
        os.setpriority(os.PRIO_PROCESS, 0, nice)


def drop_privileges(creds: Credentials | None) -> None:  # pragma: no cover - runs in the grandchild
    """Groups first, then gid, then uid: after setuid nothing else may be changed."""
    if creds is None:
        return
    if creds.groups is not None:
        os.setgroups(list(creds.groups))
    elif creds.user is not None:
        os.initgroups(creds.user, creds.gid)
    else:
        os.setgroups([creds.gid])
    os.setgid(creds.gid)
    os.setuid(creds.uid)


def credentials_of(user: str | None, group: str | None) -> Credentials | None:
    """The credentials of a spec's `--user USER[:GROUP]` and `--group GROUP`."""
    name, user_group = split_user(user) if user is not None else (None, None)
    if user_group is not None and group is not None:
        raise UsageError("give the group once: either --user USER:GROUP or --group GROUP")
    return resolve(name, user_group if user_group is not None else group)
