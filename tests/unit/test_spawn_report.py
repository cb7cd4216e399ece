import errno
import socket
import threading

import pytest

from daemonctl.proc.spawn import SpawnError, _read_until_ready, parse_report


def test_success_report_gives_identity():
    ident = parse_report(b"P 1234 99887\n")
    assert (ident.pid, ident.starttime) == (1234, 99887)


def test_exec_failure_after_pid_is_an_error():
    with pytest.raises(SpawnError) as err:
        parse_report(f"P 1234 5\nE {errno.ENOENT} exec\n".encode())
    assert err.value.not_found and err.value.stage == "exec"


def test_chdir_failure_is_not_a_missing_program():
    with pytest.raises(SpawnError) as err:
        parse_report(f"P 1 5\nE {errno.ENOENT} chdir\n".encode())
    assert not err.value.not_found and err.value.stage == "chdir"


def test_nothing_reported_means_the_fork_failed():
    with pytest.raises(SpawnError):
        parse_report(b"")


def test_ignored_signals_from_proc_status(tmp_path):
    from daemonctl.proc.sigreset import ignored_signals

    status = tmp_path / "status"
    status.write_text("Name:\tx\nSigBlk:\t0000000000000001\nSigIgn:\t0000000180001000\n")
    assert ignored_signals(str(status)) == {13, 32, 33}


def feed(*pieces: bytes):
    """A socket whose peer writes `pieces` one by one (in a thread), then closes."""
    ours, theirs = socket.socketpair()

    def write():
        with theirs:
            for piece in pieces:
                theirs.sendall(piece)

    writer = threading.Thread(target=write)
    writer.start()
    return ours, writer


@pytest.mark.parametrize(
    "pieces",
    [
        [b"P 7 8\n", b"R\n"],
        [b"R\n", b"P 7 8\n"],  # the grandchild was ready before the intermediate announced it
        [b"R\nP 7", b" 8\n"],  # and a line split between two reads
    ],
)
def test_ready_waits_for_both_lines_in_either_order(pieces):
    sock, writer = feed(*pieces)
    seen = []
    report = _read_until_ready(sock.fileno(), seen.append)
    writer.join()
    sock.close()
    assert parse_report(report).pid == 7
    assert len(seen) == 1 and parse_report(seen[0]).starttime == 8
    assert b"R\n" in report


def test_a_failure_before_the_pid_raises_when_the_pid_comes():
    sock, writer = feed(f"E {errno.ENOENT} chdir\n".encode(), b"P 7 8\n")
    calls = []
    with pytest.raises(SpawnError) as err:
        _read_until_ready(sock.fileno(), lambda lines: calls.append(parse_report(lines)))
    writer.join()
    sock.close()
    assert err.value.stage == "chdir" and calls == []


def test_end_of_report_without_ready_returns_what_came():
    sock, writer = feed(b"P 7 8\n")
    report = _read_until_ready(sock.fileno(), lambda lines: None)
    writer.join()
    sock.close()
    assert report == b"P 7 8\n"


def test_a_report_socket_reset_by_a_killed_grandchild_is_a_failed_start():
    """Defect 7 (issue 10): "go" unread when the grandchild died resets the socket."""
    from daemonctl.proc import spawn as spawn_mod

    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    theirs.sendall(b"P 4242 99\nR\n")
    ours.sendall(b"G")  # never read: the grandchild is killed before its exec
    theirs.close()
    report = spawn_mod._read_until_ready(ours.fileno()) + spawn_mod._read_all(ours.fileno())
    ours.close()
    with pytest.raises(SpawnError) as err:
        parse_report(report)
    assert err.value.stage == "killed"
