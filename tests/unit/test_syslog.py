"""Syslog framing and sending (supervise/syslog.py) against a datagram socket of the test's own."""

import re
import socket
import time

import pytest

from daemonctl.supervise.syslog import ERR, FACILITIES, INFO, Syslog, header, messages


@pytest.fixture
def receiver(tmp_path):
    path = str(tmp_path / "log")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(5)
    yield path, sock
    sock.close()


def received(sock, count):
    return [sock.recv(70000) for _ in range(count)]


def test_header_is_rfc3164_as_the_c_library_sends_it(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        assert header(FACILITIES["daemon"], INFO, 1_700_000_000, "web", 42) == b"<30>Nov 14 22:13:20 web[42]: "
        assert header(FACILITIES["local7"], ERR, 1_699_000_000, "w", 1) == b"<187>Nov  3 08:26:40 w[1]: "
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_one_message_per_line_without_its_newline():
    assert messages(b"a\n\nb\n", b"H ") == [b"H a", b"H ", b"H b"]


def test_lines_arrive_with_facility_severity_and_tag(receiver):
    path, sock = receiver
    log = Syslog(FACILITIES["local3"], "web", path)
    log.pid = 1234
    log.send(b"hello\nworld\n", INFO)
    log.send(b"oops\n", ERR)
    got = received(sock, 3)
    assert [re.sub(rb"^<(\d+)>\w{3} [ \d]\d \d\d:\d\d:\d\d ", rb"<\1>", m) for m in got] == [
        b"<158>web[1234]: hello", b"<158>web[1234]: world", b"<155>web[1234]: oops"]


def test_no_syslog_daemon_drops_and_says_so_once_one_listens(tmp_path):
    path = str(tmp_path / "log")
    now = [0.0]
    log = Syslog(FACILITIES["daemon"], "web", path, clock=lambda: now[0])
    log.send(b"a\nb\n", INFO)  # nothing listens
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(5)
    try:
        log.send(b"c\n", INFO)  # within the second: not tried again yet
        now[0] += 1.0
        log.send(b"d\n", INFO)
        first, second = received(sock, 2)
        assert b"daemonctl: log writer: dropped 3 lines not sent to syslog: cannot connect to" in first
        assert first.startswith(b"<27>") and second.endswith(b"web[0]: d")
    finally:
        sock.close()


def test_a_syslog_daemon_that_does_not_read_never_blocks_for_long(receiver, monkeypatch):
    path, sock = receiver
    monkeypatch.setattr("daemonctl.supervise.syslog.SEND_TIMEOUT", 0.05)
    log = Syslog(FACILITIES["daemon"], "web", path)
    for _ in range(2000):  # far more than a datagram queue holds
        log.send(b"x" * 1000 + b"\n", INFO)
    assert log.dropped > 0 and log.hurried
    sock.setblocking(False)
    while True:  # the reader catches up
        try:
            sock.recv(70000)
        except BlockingIOError:
            break
    sock.settimeout(5)
    log.send(b"back\n", INFO)
    assert b"not sent to syslog: the syslog daemon did not take the lines in time" in sock.recv(70000)
    assert sock.recv(70000).endswith(b"back")
    assert not log.hurried


def test_a_restarted_syslog_daemon_is_reconnected(tmp_path):
    path = str(tmp_path / "log")
    now = [0.0]
    first = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    first.bind(path)
    log = Syslog(FACILITIES["daemon"], "web", path, clock=lambda: now[0])
    log.send(b"one\n", INFO)
    assert first.recv(1000).endswith(b"one")
    first.close()
    (tmp_path / "log").unlink()
    second = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    second.bind(path)
    second.settimeout(5)
    try:
        log.send(b"lost\n", INFO)
        now[0] += 1.0
        log.send(b"two\n", INFO)
        assert b"dropped 1 line not sent to syslog" in second.recv(1000)
        assert second.recv(1000).endswith(b"two")
    finally:
        second.close()
