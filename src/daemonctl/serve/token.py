"""The bearer token of a TCP server: read from its file, or made and written there (mode 0600)."""

import errno
import os
import secrets
import stat

from daemonctl.errors import Failure, PrivilegeError, from_oserror

MIN_LENGTH = 16
MAX_SIZE = 4096


def load_or_create(path: str) -> bytes:
    """The token in `path`; a new random one written there (0600, never through a symlink) when it is missing."""
    for _ in range(3):
        try:
            return _read(path)
        except FileNotFoundError:
            pass
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            continue  # made meanwhile by another server: read that one
        except OSError as err:
            raise from_oserror(err, f"cannot create token file {path}") from None
        token = secrets.token_urlsafe(32)
        try:
            os.fchmod(fd, 0o600)  # whatever the umask
            os.write(fd, f"{token}\n".encode())
        except OSError as err:
            os.close(fd)
            os.unlink(path)
            raise from_oserror(err, f"cannot write token file {path}") from None
        os.close(fd)
        return token.encode()
    raise Failure(f"cannot read token file {path}: it keeps changing")


def _read(path: str) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise PrivilegeError(f"token file {path} is a symlink; give the file itself") from None
        raise from_oserror(err, f"cannot read token file {path}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise PrivilegeError(f"token file {path} is not a regular file")
        if st.st_uid not in (os.geteuid(), 0):
            raise PrivilegeError(f"token file {path} belongs to another user (uid {st.st_uid})")
        if st.st_mode & 0o077:
            raise PrivilegeError(f"token file {path} is open to other users (mode {stat.S_IMODE(st.st_mode):04o}); "
                                 f"chmod 600 {path}")
        data = os.read(fd, MAX_SIZE + 1)
    finally:
        os.close(fd)
    token = data.strip()
    if len(data) > MAX_SIZE or len(token) < MIN_LENGTH or not all(33 <= b < 127 for b in token):
        raise Failure(f"token file {path} must hold one token of {MIN_LENGTH} or more printable characters, no spaces")
    return token

