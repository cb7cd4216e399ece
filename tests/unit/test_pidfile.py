import os

import pytest

from daemonctl.store import pidfile


@pytest.mark.parametrize("text,pid", [("1234\n", 1234), ("1234", 1234), (" 42 \n", 42), ("4194303\n", 4194303)])
def test_valid_pids(text, pid):
    assert pidfile.parse_pid(text, own_pid=99) == pid


@pytest.mark.parametrize("text", ["", "\n", "0", "-1", "1", "+5", "abc", "12 34", "1e3", "١٢", "99",
                                  "4194304", "99999999999", "9" * 40])
def test_invalid_pids_never_become_a_pid(text):
    # 99 is "our own" PID here: never a daemon to signal.
    with pytest.raises(pidfile.InvalidPidfile):
        pidfile.parse_pid(text, own_pid=99)


def test_write_then_read_round_trip(tmp_path):
    path = tmp_path / "x.pid"
    pidfile.write(path, 4321)
    assert path.read_bytes() == b"4321\n"
    assert pidfile.read(path).pid == 4321
    assert [p.name for p in tmp_path.iterdir()] == ["x.pid"]  # no temporary file left


def test_missing_pidfile_is_none(tmp_path):
    assert pidfile.read(tmp_path / "none.pid").pid is None


def test_huge_or_unreadable_pidfile_is_invalid(tmp_path):
    big = tmp_path / "big.pid"
    big.write_text("1" * 100)
    with pytest.raises(pidfile.InvalidPidfile):
        pidfile.read(big)
    with pytest.raises(pidfile.InvalidPidfile):
        pidfile.read(tmp_path)  # a directory cannot be read as a pidfile


def test_prepare_fails_before_anything_when_directory_is_missing(tmp_path):
    with pytest.raises(OSError):
        pidfile.prepare(tmp_path / "missing" / "x.pid")


def test_prepare_then_discard_leaves_nothing(tmp_path):
    pending = pidfile.prepare(tmp_path / "x.pid")
    pending.discard()
    assert os.listdir(tmp_path) == []


def test_a_programs_own_pidfile_is_read_by_its_first_line(tmp_path):
    """--pid-from: as systemd's PIDFile=, e.g. PostgreSQL's postmaster.pid (PID, data dir, start, port...)."""
    path = tmp_path / "postmaster.pid"
    path.write_text("4242\n/var/lib/postgresql/15/main\n1701388800\n5432\n/var/run/postgresql\n*\n" + "x" * 200)
    assert pidfile.read(str(path), first_line=True).pid == 4242
    with pytest.raises(pidfile.InvalidPidfile):
        pidfile.read(str(path))  # daemonctl's own pidfile holds the PID and nothing else
    path.write_text("4242")
    assert pidfile.read(str(path), first_line=True).pid == 4242
