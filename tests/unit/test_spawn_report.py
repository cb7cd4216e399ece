import errno

import pytest

from daemonctl.spawn import SpawnError, parse_report


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
    from daemonctl.sigreset import ignored_signals

    status = tmp_path / "status"
    status.write_text("Name:\tx\nSigBlk:\t0000000000000001\nSigIgn:\t0000000180001000\n")
    assert ignored_signals(str(status)) == {13, 32, 33}
