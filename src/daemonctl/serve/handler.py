"""HTTP on top of http.server: bounded requests, the guards, JSON errors, static files and streams.

Every connection has its own thread (server.py) and is answered once, then closed.
A request must arrive whole (line, headers, body) within HEAD_SECONDS and HEAD_LIMIT
bytes (BODY_LIMIT for the body), whatever pace the client sends it at; a client that
stalls holds only its own thread, and at most MAX_CLIENTS connections are served at once.
"""

from __future__ import annotations

import json
import sys
import traceback
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from daemonctl.errors import DaemonctlError
from daemonctl.serve.api import Reply, Stream
from daemonctl.serve.guard import Refusal, check_host, check_origin, check_token
from daemonctl.serve.logstream import follow, tail
from daemonctl.serve.statuses import ALLOWED, for_exit, reason

if TYPE_CHECKING:
    from daemonctl.serve.server import Server

API_PREFIX = "/api/v1"
HEAD_LIMIT = 16 * 1024  # request line and headers
BODY_LIMIT = 4096  # the largest body the API takes is {"signal": "..."}
HEAD_SECONDS = 10.0  # to send the whole request
IO_TIMEOUT = 10.0  # any one read or write (a stream's client that stops reading)

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = (
    "Cache-Control: no-store",
    "X-Content-Type-Options: nosniff",
    "X-Frame-Options: DENY",
    "Referrer-Policy: no-referrer",
    f"Content-Security-Policy: {CSP}",
)


class TooLarge(Exception):
    pass


class Bounded:
    """The request's input, of which at most `left` more bytes may be read."""

    def __init__(self, raw: Any, left: int) -> None:
        self.raw, self.left = raw, left
        self.cut = False  # a line ended by the end of the input, not by its newline

    def readline(self, size: int = -1) -> bytes:
        want = self.left + 1 if size < 0 else min(size, self.left + 1)
        line: bytes = self.raw.readline(want)
        self.left -= len(line)
        if self.left < 0:
            raise TooLarge
        if not line.endswith(b"\n"):
            self.cut = True
        return line

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > self.left:
            raise TooLarge
        data: bytes = self.raw.read(size)
        self.left -= len(data)
        return data

    def close(self) -> None:  # by http.server's finish(), after each request
        self.raw.close()


class Handler(BaseHTTPRequestHandler):
    server: Server
    timeout = IO_TIMEOUT
    server_version = "daemonctl"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        self.rfile = Bounded(self.rfile, HEAD_LIMIT)  # type: ignore[assignment]
        self.answered = False
        self.expired = False
        self.deadline = self.server.deadlines.add(HEAD_SECONDS, self.connection, self._too_slow)

    def _too_slow(self) -> None:
        self.expired = True

    def handle(self) -> None:
        try:
            self.handle_one_request()
        except TooLarge:
            if not self.answered:
                self._error(400, f"request too large: at most {HEAD_LIMIT} bytes of request line and headers")
        except OSError:
            pass  # the client went away, or stopped reading
        finally:
            self.server.deadlines.cancel(self.deadline)

    # -- answers

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (malformed request line, too many headers, unknown method), as JSON."""
        self._error(code if code in ALLOWED else 400, message or reason(code))

    def _error(self, status: int, message: str, **extra: Any) -> None:
        self._json(status, {"error": message, **extra})

    def _json(self, status: int, body: Any) -> None:
        self._send(status, "application/json", json.dumps(body).encode() + b"\n")

    def _send(self, status: int, content_type: str, body: bytes | None, *extra: str) -> None:
        head = [f"HTTP/1.1 {status} {reason(status)}", f"Date: {self.date_time_string()}", "Server: daemonctl",
                f"Content-Type: {content_type}", "Connection: close", *SECURITY_HEADERS, *extra]
        if body is not None:
            head.append(f"Content-Length: {len(body)}")
        self.answered = True
        self.close_connection = True
        self._log(status)
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (body or b""))

    def _log(self, status: int) -> None:
        if status >= 400 or getattr(self, "command", None) == "POST":
            who = self.client_address[0] if isinstance(self.client_address, tuple) else "local"
            line = getattr(self, "requestline", "")[:200]
            print(f"daemonctl serve: {who} {line!r} {status}", file=sys.stderr, flush=True)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per refused request or change, written by _log

    # -- requests

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        try:
            self._answer(method)
        except OSError:
            raise
        except Exception as err:
            traceback.print_exc()
            if not self.answered:
                self._error(500, f"internal error: {type(err).__name__}")

    def _answer(self, method: str) -> None:
        assert isinstance(self.rfile, Bounded)
        if self.rfile.cut:
            # http.server takes the end of the input for the end of the headers: never act on half a request.
            why = f"within {HEAD_SECONDS:g} seconds" if self.expired else "before the connection was closed"
            self._error(400, f"the request did not arrive whole {why}")
            return
        srv = self.server
        refusal = check_host(self.headers.get_all("Host") or [], srv.host_names)
        url = urlsplit(self.path)
        if refusal is None and not self.path.startswith("/"):
            refusal = Refusal(400, "the request target must be a path")
        if refusal is None and url.path.startswith("/api/"):
            refusal = check_token(self.headers.get("Authorization"), srv.token)
            if refusal is None and method == "POST":
                refusal = check_origin(self.headers.get("Origin"), self.headers.get("Sec-Fetch-Site"),
                                       self.headers.get("Host", ""))
        if refusal is not None:
            extra = {"WWW-Authenticate": "Bearer"} if refusal.status == 401 else {}
            self._send(refusal.status, "application/json", json.dumps({"error": refusal.message}).encode() + b"\n",
                       *(f"{k}: {v}" for k, v in extra.items()))
            return
        body = self._body()
        if body is None:
            return
        self.server.deadlines.cancel(self.deadline)  # the request is in: what follows may take long (a stop, a stream)
        if not url.path.startswith("/api/"):
            self._static(method, url.path)
        elif url.path.startswith(API_PREFIX + "/"):
            self._api(method, url.path[len(API_PREFIX):], url.query, body)
        else:
            self._error(404, f"no such endpoint {url.path[:100]}; the API is under {API_PREFIX}")

    def _body(self) -> bytes | None:
        """The request's body (b"" without one); None once refused with 400."""
        if self.headers.get("Transfer-Encoding") is not None:
            self._error(400, "a body in chunks is not accepted: send Content-Length")
            return None
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            return b""
        if len(lengths) != 1 or not lengths[0].strip().isdigit():
            self._error(400, "malformed Content-Length")
            return None
        size = int(lengths[0])
        if size > BODY_LIMIT:
            self._error(400, f"request body too large: {size} bytes (at most {BODY_LIMIT})")
            return None
        assert isinstance(self.rfile, Bounded)
        self.rfile.left = size
        data = self.rfile.read(size)
        if len(data) < size:
            self._error(400, "the request body ended early")
            return None
        return data

    def _static(self, method: str, path: str) -> None:
        asset = self.server.assets.get(path)
        if asset is None:
            self._error(404, f"no such page {path[:100]}")
        elif method != "GET":
            self._error(400, f"{path[:100]} takes GET, not {method}")
        else:
            self._send(200, asset[0], asset[1])

    def _api(self, method: str, path: str, query: str, body: bytes) -> None:
        result = self.server.api.handle(method, path, query, body)
        if isinstance(result, Reply):
            self._json(result.status, result.body)
            return
        self._stream(result)

    def _stream(self, stream: Stream) -> None:
        try:
            first, fd, end = tail(stream.source, stream.lines)
        except DaemonctlError as err:
            self._error(for_exit(err.exit_code), err.message)
            return
        self._send(200, "text/event-stream; charset=utf-8", None, "X-Accel-Buffering: no")
        follow(stream.source, first, fd, end, self.connection, self.wfile.write, self.server.stopping)
