"""Helpers of the `daemonctl serve` tests: a server run by the test, and HTTP to it over TCP or its unix socket."""
from __future__ import annotations

import http.client
import json
import re
import signal
import socket
import subprocess
import threading
from pathlib import Path

from .helpers import Dctl, wait_for

SERVING = re.compile(r"daemonctl: serving (\S+)")


class UnixConnection(http.client.HTTPConnection):
    """HTTP over a unix socket (what `curl --unix-socket PATH http://localhost/...` does)."""

    def __init__(self, path: str, timeout: float = 30):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class Reply:
    def __init__(self, status: int, headers: http.client.HTTPMessage, raw: bytes):
        self.status, self.headers, self.raw = status, headers, raw

    @property
    def json(self):
        return json.loads(self.raw)

    def __repr__(self) -> str:
        return f"<{self.status} {self.raw[:300]!r}>"


class Served:
    """`daemonctl serve ARGS` started by the test; `where` is its URL or socket path once it listens."""

    def __init__(self, dctl: Dctl, *args: str):
        self.dctl = dctl
        self.proc = dctl.popen("serve", *args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.stderr_ended = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        assert wait_for(lambda: self.where or self.proc.poll() is not None, 30), "serve did not start listening"
        assert self.where, f"serve ended: {self.proc.returncode} {self.lines}"
        self.token: str | None = None
        match = re.search(r"API token in (\S+)\)", self.stderr)
        if match:
            self.token_file = Path(match.group(1))
            self.token = self.token_file.read_text().strip()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
        self.stderr_ended.set()

    @property
    def stderr(self) -> str:
        return "".join(self.lines)

    @property
    def where(self) -> str | None:
        match = SERVING.search(self.stderr)
        return match.group(1) if match else None

    @property
    def tcp(self) -> bool:
        return self.where is not None and self.where.startswith("http://")

    @property
    def address(self) -> tuple[str, int]:
        assert self.where
        host, port = self.where.removeprefix("http://").rstrip("/").rsplit(":", 1)
        return host, int(port)

    @property
    def host(self) -> str:
        return "{}:{}".format(*self.address) if self.tcp else "localhost"

    def connection(self, timeout: float = 30) -> http.client.HTTPConnection:
        if self.tcp:
            return http.client.HTTPConnection(*self.address, timeout=timeout)
        assert self.where
        return UnixConnection(self.where, timeout)

    def raw_socket(self) -> socket.socket:
        if self.tcp:
            return socket.create_connection(self.address, timeout=30)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        s.connect(self.where)
        return s

    def request(self, method: str, path: str, body: bytes | str | dict | None = None, headers: dict | None = None,
                token: str | None | bool = True) -> Reply:
        """One request; `token`: True sends the server's own, a string sends that one, None or False none."""
        h = dict(headers or {})
        if token is True:
            token = self.token
        if token:
            h.setdefault("Authorization", f"Bearer {token}")
        if isinstance(body, dict):
            body = json.dumps(body)
        conn = self.connection()
        try:
            conn.request(method, path, body=body, headers=h)
            resp = conn.getresponse()
            return Reply(resp.status, resp.headers, resp.read())
        finally:
            conn.close()

    def get(self, path: str, **kw) -> Reply:
        return self.request("GET", f"/api/v1{path}", **kw)

    def post(self, path: str, body=None, **kw) -> Reply:
        return self.request("POST", f"/api/v1{path}", body=body, **kw)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(30)

    def alive(self) -> bool:
        return self.proc.poll() is None


def events(stream: http.client.HTTPResponse, until, timeout: float = 20) -> list[str]:
    """The data of each server-sent event read from `stream` until `until(datas)` is true."""
    datas: list[str] = []
    block: list[str] = []
    while not until(datas):
        line = stream.fp.readline()
        if not line:
            break
        text = line.decode().rstrip("\n")
        if text:
            block.append(text)
            continue
        datas.extend(t[len("data: "):] for t in block if t.startswith("data: "))
        block = []
    return datas
