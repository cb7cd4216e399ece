"""Readiness pieces: parsing, the sd_notify messages, the checks, and the waiting loop with a fake clock."""

import os
import socket
import stat

import pytest

from daemonctl.readiness import Deadline, FileCheck, LogCheck, NotifyCheck, NotReady, apply_notify, parse_port, wait_ready


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class Ended:
    """ended(seconds): advances the fake clock; says "exited with status 1" from `at` on."""

    def __init__(self, clock, at=None):
        self.clock, self.at = clock, at

    def __call__(self, seconds):
        self.clock.now += seconds
        if self.at is not None and self.clock.now >= self.at:
            return "exited with status 1"
        return None


class After:
    """A check that passes from a given time on."""

    what = "the thing"

    def __init__(self, clock, at):
        self.clock, self.at = clock, at

    def poll(self, now, deadline):
        return now >= self.at

    def close(self):
        pass


@pytest.mark.parametrize("text, expected", [("8080", ("127.0.0.1", 8080)), ("0.0.0.0:1", ("0.0.0.0", 1)),
                                            ("[::1]:443", ("::1", 443)), ("db:5432", ("db", 5432))])
def test_parse_port(text, expected):
    assert parse_port(text) == expected


@pytest.mark.parametrize("text", ["", "x", "0", "65536", "host:", ":80", "80:x"])
def test_parse_port_rejects(text):
    with pytest.raises(ValueError):
        parse_port(text)


def test_notify_messages():
    deadline = Deadline(10.0)
    assert not apply_notify("STATUS=starting\nEXTEND_TIMEOUT_USEC=20000000", 5.0, deadline)
    assert deadline.at == 25.0
    apply_notify("EXTEND_TIMEOUT_USEC=1000000", 5.0, deadline)
    assert deadline.at == 25.0  # never shortened
    assert apply_notify("STATUS=up\nREADY=1\n", 6.0, deadline)
    with pytest.raises(NotReady, match="ERRNO=2"):
        apply_notify("ERRNO=2", 6.0, deadline)


def test_wait_ready_returns_once_all_checks_pass():
    clock = Clock()
    wait_ready([After(clock, 1.0), After(clock, 2.0)], 30, Ended(clock), clock)
    assert 2.0 <= clock.now < 30


def test_wait_ready_times_out_naming_what_it_waited_for():
    clock = Clock()
    with pytest.raises(NotReady, match=r"not ready within 3s \(waited for the thing\)"):
        wait_ready([After(clock, 99.0)], 3, Ended(clock), clock)
    assert clock.now == pytest.approx(3.0)


def test_wait_ready_fails_when_the_program_ends_first():
    clock = Clock()
    with pytest.raises(NotReady, match="exited with status 1 before it was ready"):
        wait_ready([After(clock, 10.0)], 30, Ended(clock, at=1.0), clock)
    assert clock.now < 2.0


def test_ready_then_ended_counts_as_ready():
    clock = Clock()
    wait_ready([After(clock, 1.0)], 30, Ended(clock, at=1.0), clock)


def test_notify_extends_the_deadline():
    clock = Clock()

    class Extender(After):
        def poll(self, now, deadline):
            if now < 0.1:
                deadline.extend(now + 60)
            return now >= self.at

    wait_ready([Extender(clock, 45.0)], 30, Ended(clock), clock)
    assert clock.now >= 45.0


def test_file_check(tmp_path):
    check = FileCheck(str(tmp_path / "ready"))
    assert not check.poll(0, Deadline(1))
    (tmp_path / "ready").touch()
    assert check.poll(0, Deadline(1))


def test_file_check_counts_a_symlink_without_following_it(tmp_path):
    """A dangling link is ready; one into a place we cannot look says nothing of what is there."""
    check = FileCheck(str(tmp_path / "ready"))
    (tmp_path / "ready").symlink_to(tmp_path / "missing")
    assert check.poll(0, Deadline(1))


def test_log_check_matches_only_new_complete_lines(tmp_path):
    out, err = tmp_path / "out.log", tmp_path / "err.log"
    out.write_text("listening on 80 (an old line)\n")
    check = LogCheck(r"listening on \d+", [str(out), str(err)])
    try:
        assert not check.poll(0, Deadline(1))
        with open(err, "a") as f:
            f.write("listening on 8")
        assert not check.poll(0, Deadline(1))  # not a complete line yet
        with open(err, "a") as f:
            f.write("080\n")
        assert check.poll(0, Deadline(1))
    finally:
        check.close()


def test_notify_check_receives_datagrams():
    check = NotifyCheck()
    try:
        sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sender.sendto(b"STATUS=warming up", check.path)
        assert not check.poll(0, Deadline(1))
        sender.sendto(b"READY=1", check.path)
        assert check.poll(0, Deadline(1))
        sender.close()
    finally:
        check.close()
    import os

    assert not os.path.exists(check.directory)


def test_notify_socket_for_another_user_is_that_users_alone():
    if os.geteuid() != 0:
        pytest.skip("only root gives the socket to another user")
    check = NotifyCheck((65534, 65534))
    try:
        sock, directory = os.stat(check.path), os.stat(check.directory)
        assert (sock.st_uid, stat.S_IMODE(sock.st_mode)) == (65534, 0o600)
        assert (directory.st_uid, stat.S_IMODE(directory.st_mode)) == (0, 0o711)
    finally:
        check.close()
    assert not os.path.exists(check.directory)
