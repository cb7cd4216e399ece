"""serve's small parts: the token file, --listen, the exit-status map, splitting a log into events."""

import os
import stat

import pytest

from daemonctl.errors import Failure, PrivilegeError, UsageError
from daemonctl.exitcodes import ExitStatus
from daemonctl.serve.listen import parse_listen
from daemonctl.serve.logstream import MAX_LINE, Lines, decode, event
from daemonctl.serve.statuses import ALLOWED, for_exit
from daemonctl.serve.token import load_or_create


def test_token_file_created_0600_once(tmp_path):
    path = tmp_path / "token"
    os.umask(0o022)
    token = load_or_create(str(path))
    assert len(token) >= 32 and path.read_bytes() == token + b"\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create(str(path)) == token


def test_token_file_refusals(tmp_path):
    path = tmp_path / "token"
    path.write_text("x" * 40)
    path.chmod(0o640)
    with pytest.raises(PrivilegeError, match="chmod 600"):
        load_or_create(str(path))
    path.chmod(0o600)
    path.write_text("has spaces in the middle of it")
    with pytest.raises(Failure, match="printable"):
        load_or_create(str(path))
    link = tmp_path / "link"
    link.symlink_to(path)
    with pytest.raises(PrivilegeError, match="symlink"):
        load_or_create(str(link))
    os.mkfifo(tmp_path / "fifo", 0o600)
    with pytest.raises(PrivilegeError, match="regular"):
        load_or_create(str(tmp_path / "fifo"))  # and never blocks on it
    with pytest.raises(Failure):
        load_or_create(str(tmp_path / "no" / "such" / "dir"))


@pytest.mark.parametrize("text, expected", [
    ("9001", ("127.0.0.1", 9001)),
    ("0", ("127.0.0.1", 0)),
    ("0.0.0.0:80", ("0.0.0.0", 80)),
    ("localhost:9001", ("localhost", 9001)),
    ("[::1]:9001", ("::1", 9001)),
])
def test_parse_listen(text, expected):
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", ["", ":", "host:", ":80", "65536", "x", "-1", "1.2.3.4:port"])
def test_parse_listen_bad(text):
    with pytest.raises(UsageError):
        parse_listen(text)


def test_every_exit_status_maps_to_a_contract_status():
    for code in [*ExitStatus, 42]:
        assert for_exit(code) in ALLOWED
    assert for_exit(ExitStatus.OK) == 200
    assert for_exit(ExitStatus.USAGE) == 400
    assert for_exit(ExitStatus.PRIVILEGE) == 403
    assert for_exit(ExitStatus.NO_PROGRAM) == 404
    assert for_exit(ExitStatus.SIGNAL_NOT_RUNNING) == 409
    assert for_exit(ExitStatus.FAILURE) == 500


def test_lines_whole_and_in_order_across_reads():
    lines = Lines()
    assert lines.feed(b"one\ntw") == ["one"]
    assert lines.feed(b"o\r\n\nthree") == ["two", ""]
    assert lines.feed(b"\n") == ["three"]
    long = lines.feed(b"x" * (MAX_LINE * 2 + 5))
    assert long == ["x" * MAX_LINE, "x" * MAX_LINE]
    assert lines.feed(b"\n") == ["xxxxx"]
    assert lines.feed("é\n".encode()[:1]) == [] and lines.feed("é\n".encode()[1:]) == ["é"]


def test_an_event_is_one_line_whatever_the_bytes():
    assert event("a: b") == b"data: a: b\n\n"
    assert decode(b"ok\n\xff\xfe\r") == ["ok", "\ufffd\ufffd"]


def test_deadlines_end_the_input_of_late_requests_only():
    import socket

    from daemonctl.serve.deadlines import Deadlines

    now = [0.0]
    deadlines = Deadlines(clock=lambda: now[0])
    late, on_time = socket.socketpair(), socket.socketpair()
    expired: list[str] = []
    deadlines.add(10, late[0], lambda: expired.append("late"))
    key = deadlines.add(10, on_time[0], lambda: expired.append("on time"))
    now[0] = 5.0
    deadlines.check()
    deadlines.cancel(key)  # its request arrived whole
    assert expired == []
    now[0] = 10.0
    deadlines.check()
    assert expired == ["late"]
    assert late[0].recv(10) == b""  # the reader sees the end of its input
    on_time[0].setblocking(False)
    on_time[1].sendall(b"x")
    assert on_time[0].recv(10) == b"x"
    for a, b in (late, on_time):
        a.close()
        b.close()


def test_the_last_lines_reach_back_into_rotated_files_as_logs_does(tmp_path, monkeypatch):
    import gzip

    from daemonctl.serve import logstream
    from daemonctl.store.logread import Source, show

    log = tmp_path / "d.log"
    (tmp_path / "d.log.3.gz").write_bytes(gzip.compress(b"one\ntwo\n"))
    (tmp_path / "d.log.2").write_bytes(b"three\n")
    (tmp_path / "d.log.1.gz").write_bytes(gzip.compress(b"four\nfive"))  # no newline at its end
    log.write_bytes(b"six\nseven\n")
    source = Source(str(log), None)
    for n in (1, 2, 3, 5, 100):
        cli: list[bytes] = []
        show(source, n, False, cli.append)
        lines, fd, end = logstream.tail(source, n)
        assert fd is not None
        os.close(fd)
        assert lines == b"".join(cli).decode().splitlines() and end == log.stat().st_size, n
    assert logstream.tail(source, 100)[0] == ["one", "two", "three", "four", "five", "six", "seven"]
    monkeypatch.setattr(logstream, "MAX_BYTES", 12)  # a log of long lines: cut at its start
    lines, fd, _ = logstream.tail(source, 100)
    assert fd is not None
    os.close(fd)
    assert lines == ["ve", "six", "seven"]
    assert logstream.tail(Source(str(tmp_path / "none.log"), None), 10) == ([], None, 0)
