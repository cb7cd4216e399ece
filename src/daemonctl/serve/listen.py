"""Where `serve` listens: a unix socket (mode 0600) or a TCP address."""

import errno
import os
import socket
import stat

from daemonctl.errors import Failure, UsageError, from_oserror

BACKLOG = 128
SUN_PATH_MAX = 107  # bytes of a unix socket's path (sockaddr_un.sun_path, less its NUL)


def parse_listen(text: str) -> tuple[str, int]:
    """`[HOST:]PORT` as `--listen` takes it (HOST 127.0.0.1 by default; `[::1]:PORT` for IPv6)."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host = "127.0.0.1"
    elif host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"--listen takes [HOST:]PORT with PORT from 0 to 65535, not {text!r}")
    return host, int(port)


def tcp(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                              flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as err:
        raise UsageError(f"cannot listen on {host}:{port}: {err.strerror}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as err:
        sock.close()
        raise from_oserror(err, f"cannot listen on {host}:{port}") from None
    return sock


def unix(path: str) -> socket.socket:
    """A socket at `path` that only its owner may connect to; a stale one (no one listening) is replaced."""
    check_unix_path(path)
    _clear_stale(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)  # born 0600: never a moment when others could connect
    try:
        sock.bind(path)
        sock.listen(BACKLOG)
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise Failure(f"cannot listen on {path}: something else was put there meanwhile") from None
        raise from_oserror(err, f"cannot listen on {path}") from None
    finally:
        os.umask(old)
    return sock


def check_unix_path(path: str) -> None:
    if len(os.fsencode(path)) > SUN_PATH_MAX:
        raise Failure(f"cannot listen on {path}: a unix socket's path holds at most {SUN_PATH_MAX} bytes; "
                      "give a shorter one with --socket PATH")


def _clear_stale(path: str) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as err:
        raise from_oserror(err, f"cannot listen on {path}") from None
    if not stat.S_ISSOCK(st.st_mode):
        raise Failure(f"cannot listen on {path}: it exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except ConnectionRefusedError:
        os.unlink(path)  # a server that ended without removing it
        return
    except OSError as err:
        raise from_oserror(err, f"cannot listen on {path}") from None
    finally:
        probe.close()
    raise Failure(f"cannot listen on {path}: another server is listening there (daemonctl serve already runs?)")


def remove_if_ours(path: str, inode: tuple[int, int]) -> None:
    """Remove the socket at `path` if it is still the one this server made."""
    try:
        st = os.lstat(path)
        if (st.st_dev, st.st_ino) == inode:
            os.unlink(path)
    except OSError:
        pass
