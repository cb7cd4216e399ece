"""`daemonctl serve`: listen, then answer until TERM, INT or HUP."""

from __future__ import annotations

import os
import signal
import socket
import socketserver
import sys
import threading
from collections.abc import Callable
from importlib import resources
from typing import Any

from daemonctl.errors import UsageError
from daemonctl.serve import listen
from daemonctl.serve.actions import run_action
from daemonctl.serve.api import Api
from daemonctl.serve.deadlines import Deadlines
from daemonctl.serve.handler import Handler
from daemonctl.serve.sampler import Sampler
from daemonctl.serve.token import load_or_create
from daemonctl.store.statedir import StateDir

MAX_CLIENTS = 128  # connections served at once; more are closed as they come
SOCKET_NAME = "daemonctl.sock"
TOKEN_NAME = "daemonctl.token"
ASSETS = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
    "/favicon.svg": ("favicon.svg", "image/svg+xml"),
}


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True

    def __init__(self, sock: socket.socket, api: Api, token: bytes | None, host_names: frozenset[str]) -> None:
        super().__init__(("", 0), Handler, bind_and_activate=False)
        self.socket.close()
        self.socket, self.address_family = sock, sock.family
        self.api, self.token, self.host_names = api, token, host_names
        self.assets = load_assets()
        self.slots = threading.BoundedSemaphore(MAX_CLIENTS)
        self.stopping = threading.Event()
        self.deadlines = Deadlines()

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)  # as many clients as it serves at once: this one is not waited for
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        print(f"daemonctl serve: error answering a request: {sys.exc_info()[1]!r}", file=sys.stderr, flush=True)


def load_assets() -> dict[str, tuple[str, bytes]]:
    folder = resources.files("daemonctl.serve") / "static"
    return {path: (kind, (folder / name).read_bytes()) for path, (name, kind) in ASSETS.items()}


STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGHUP})


def serve(
    state: StateDir,
    socket_path: str | None,
    listen_on: str | None,
    token_file: str | None,
    read_only: bool,
    announce: Callable[[str, str | None], None],
) -> None:
    """Serve until TERM, INT or HUP; `announce(url or socket path, token file)` once listening."""
    if socket_path is not None and listen_on is not None:
        raise UsageError("give either --socket PATH or --listen [HOST:]PORT, not both")
    token: bytes | None = None
    inode: tuple[int, int] | None = None
    if listen_on is not None:
        host, port = listen.parse_listen(listen_on)
        sock = listen.tcp(host, port)  # first: an address taken leaves no token file behind
        try:
            if token_file is None:
                state.ensure()
                token_file = os.path.join(state.path, TOKEN_NAME)
            token = load_or_create(token_file)
        except BaseException:
            sock.close()
            raise
        bound_host, bound_port = sock.getsockname()[:2]
        where = f"http://{'[' + bound_host + ']' if ':' in bound_host else bound_host}:{bound_port}/"
        names = frozenset({host.lower(), socket.gethostname().lower()})
    else:
        if token_file is not None:
            token = load_or_create(token_file)
        if socket_path is None:
            socket_path = os.path.join(state.path, SOCKET_NAME)
            listen.check_unix_path(socket_path)
            state.ensure()
        sock = listen.unix(socket_path)
        st = os.lstat(socket_path)
        inode, where, names = (st.st_dev, st.st_ino), socket_path, frozenset({socket.gethostname().lower()})
    sampler = Sampler(lambda: _reports(state))
    server = Server(sock, Api(state, read_only, sampler.snapshot, run_action), token, names)
    # The stop signals are blocked in every thread and taken by sigtimedwait in this one.
    # A Python handler is not enough: the kernel hands a process's signal to any thread that
    # does not block it, and one taken by a busy helper thread was seen to never reach the
    # main thread's handler (3.11: 4 TERMs in 40 under load left serve running).
    # The worker processes unblock them (they inherit the mask).
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    loop = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.5}, name="server", daemon=True)
    try:
        sampler.start()
        server.deadlines.start()
        loop.start()
        announce(where, token_file if token is not None else None)
        while loop.is_alive() and signal.sigtimedwait(STOP_SIGNALS, 1.0) is None:
            pass
    finally:
        if loop.is_alive():
            server.shutdown()
        server.stopping.set()
        sampler.stopping.set()
        server.deadlines.stopping.set()
        server.server_close()
        if inode is not None and socket_path is not None:
            listen.remove_if_ours(socket_path, inode)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _reports(state: StateDir) -> list[dict[str, Any]]:
    from daemonctl.status import status_all

    return [r.to_json() for r in status_all(state)]
