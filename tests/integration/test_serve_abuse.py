"""`daemonctl serve` against hostile or broken clients: DNS rebinding, cross-site changes,
huge and malformed requests, and clients that stall."""
from __future__ import annotations

import json
import socket

import pytest

from .helpers import SLEEP, alive, wait_for

pytestmark = pytest.mark.integration


def raw(server, data: bytes, timeout: float = 30) -> bytes:
    """Send `data` as it is and read the whole answer (the server closes after answering)."""
    with server.raw_socket() as s:
        s.settimeout(timeout)
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before everything was sent: the answer is still there to read
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def status_and_body(answer: bytes) -> tuple[int, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


@pytest.fixture
def tcp(serve):
    return serve("--listen", "127.0.0.1:0")


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "rebind.attacker.test:9001", "127.0.0.1.nip.io"])
def test_a_foreign_host_header_is_refused(tcp, host):
    for path in ("/api/v1/daemons", "/"):
        reply = tcp.request("GET", path, headers={"Host": host})
        assert reply.status == 403 and "Host" in reply.json["error"], (path, reply)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]:9001", "LOCALHOST:1"])
def test_local_host_headers_are_served(tcp, host):
    assert tcp.request("GET", "/api/v1/daemons", headers={"Host": host}).status == 200


def test_two_host_headers_or_none(tcp):
    token = tcp.token
    two = f"GET /api/v1/daemons HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\nAuthorization: Bearer {token}\r\n\r\n"
    assert status_and_body(raw(tcp, two.encode()))[0] == 400
    none = f"GET /api/v1/daemons HTTP/1.0\r\nAuthorization: Bearer {token}\r\n\r\n"
    assert status_and_body(raw(tcp, none.encode()))[0] == 400


def test_unix_socket_checks_host_too(serve):
    server = serve()
    assert server.request("GET", "/api/v1/daemons", headers={"Host": "evil.example"}).status == 403
    assert server.request("GET", "/api/v1/daemons").status == 200


@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"},
    {"Origin": "null"},
    {"Origin": "http://127.0.0.1:1"},  # another port is another origin
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
])
def test_a_change_from_another_origin_is_refused(dctl, tcp, headers):
    pid = dctl.start("web", SLEEP, "1000")
    reply = tcp.post("/daemons/web/stop", headers=headers)
    assert reply.status == 403, reply
    assert alive(pid)


def test_a_change_from_the_page_itself_is_done(dctl, tcp):
    pid = dctl.start("web", SLEEP, "1000")
    origin = f"http://{tcp.host}"
    reply = tcp.post("/daemons/web/stop", headers={"Origin": origin, "Sec-Fetch-Site": "same-origin"})
    assert reply.status == 200, reply
    assert wait_for(lambda: not alive(pid))


def test_huge_body_refused_without_reading_it(dctl, tcp):
    dctl.start("web", SLEEP, "1000")
    head = (f"POST /api/v1/daemons/web/signal HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {tcp.token}\r\n"
            f"Content-Length: {1 << 30}\r\n\r\n").encode()
    status, body = status_and_body(raw(tcp, head + b"x" * 100000))
    assert status == 400 and "too large" in body["error"]
    chunked = (f"POST /api/v1/daemons/web/signal HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {tcp.token}\r\n"
               f"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n").encode()
    assert status_and_body(raw(tcp, chunked))[0] == 400
    two = (f"POST /api/v1/daemons/web/signal HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {tcp.token}\r\n"
           f"Content-Length: 2\r\nContent-Length: 20\r\n\r\n{{}}").encode()
    assert status_and_body(raw(tcp, two))[0] == 400
    assert tcp.get("/daemons").status == 200


@pytest.mark.parametrize("data", [
    b"GET /api/v1/daemons HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n",
    b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(150)) + b"Host: localhost\r\n\r\n",
    b"NONSENSE\r\n\r\n",
    b"GET / HTTP/9.9\r\nHost: localhost\r\n\r\n",
    b"DELETE /api/v1/daemons HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET http://evil.example/api/v1/daemons HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)) + b"\r\n\r\n",  # a TLS hello
])
def test_malformed_or_oversized_requests_get_a_400(tcp, data):
    answer = raw(tcp, data)
    status, body = status_and_body(answer)
    assert status == 400 and body["error"], answer[:300]
    assert tcp.get("/daemons").status == 200
    assert "Traceback" not in tcp.stderr


def test_fifty_stalled_clients_block_no_one(dctl, tcp):
    """Clients that send half a request, or never read a stream, hold their own connection only."""
    pid = dctl.start("web", SLEEP, "1000")
    stalled = []
    for i in range(50):
        s = tcp.raw_socket()
        if i % 2:
            s.sendall(b"GET /api/v1/daemons HTTP/1.1\r\nHost: local")  # never finishes its headers
        else:
            # A follower of a log that never reads what it is sent.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
            s.sendall(f"GET /api/v1/daemons/web/logs?follow=1 HTTP/1.1\r\nHost: localhost\r\n"
                      f"Authorization: Bearer {tcp.token}\r\n\r\n".encode())
        stalled.append(s)
    for _ in range(5):
        assert tcp.get("/daemons").json[0]["pid"] == pid
    reply = tcp.post("/daemons/web/stop")
    assert reply.status == 200 and wait_for(lambda: not alive(pid))
    # The half-sent requests are given up on (HEAD_SECONDS) and answered 400 or closed.
    for s in stalled[1::2]:
        s.settimeout(60)
        data = s.recv(65536)
        assert data == b"" or data.startswith(b"HTTP/1.1 400"), data[:200]
    for s in stalled:
        s.close()
    assert tcp.get("/daemons").status == 200


def test_a_trickling_client_is_cut_off(tcp):
    """One byte at a time, each well within the read timeout: the request as a whole still has a deadline."""
    s = tcp.raw_socket()
    s.settimeout(60)
    request = b"GET /api/v1/daemons HTTP/1.1\r\nHost: localhost\r\n" + b"X-Slow: " + b"a" * 10000
    sent = 0
    closed = False
    import time

    while sent < len(request):
        try:
            s.sendall(request[sent:sent + 1])
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        sent += 1
        time.sleep(0.05)  # the pace of the attack, not a wait for an event
        if sent % 20 == 0 and _readable(s):
            closed = True
            break
    assert closed, "a request trickled in over minutes was still being read"
    s.close()


def _readable(s: socket.socket) -> bool:
    import select

    return bool(select.select([s], [], [], 0)[0])
