"""A failed start shows the last lines of its log: only what this run wrote (issue 11 #8),
also when stdout and stderr are two files, and when the log is rotated meanwhile."""
import pytest

from .helpers import PY, assert_one_error

pytestmark = pytest.mark.integration


def fail_with(line: str) -> list[str]:
    return [PY, "-c", f"import sys; print({line!r}, flush=True); sys.exit(3)"]


def shown(stderr: str) -> list[str]:
    return [ln[4:] for ln in stderr.splitlines() if ln.startswith("  | ")]


@pytest.mark.parametrize("how", [["--wait", "5"], ["--ready-timeout", "20", "--ready-file", "/nonexistent/x"]],
                         ids=["wait", "readiness"])
def test_earlier_runs_error_is_not_shown(dctl, how):
    dctl.logfile("job").parent.mkdir(parents=True, exist_ok=True)
    dctl.logfile("job").write_text("ERROR from last week's run\n" * 3)
    cp = dctl("start", "-n", "job", *how, *fail_with("this run's complaint"))
    assert_one_error(cp, 1)
    assert shown(cp.stderr) == ["this run's complaint"], cp.stderr


def test_separate_stderr_log(dctl, tmp_path):
    out, err = tmp_path / "out.log", tmp_path / "err.log"
    out.write_text("old stdout line\n")
    err.write_text("old stderr line\n")
    program = [PY, "-c", "import sys; print('new out', flush=True); print('new err', file=sys.stderr, flush=True); "
               "sys.exit(3)"]
    cp = dctl("start", "-n", "job", "--wait", "5", "-o", out, "-e", err, *program)
    assert_one_error(cp, 1)
    assert shown(cp.stderr) == ["new out", "new err"], cp.stderr


def test_log_renamed_during_the_start(dctl):
    # logrotate's rename + create while the program runs: its lines went on into the old file.
    log = dctl.logfile("job")
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("ERROR from last week's run\n")
    rotate = f"os.rename({str(log)!r}, {str(log)!r} + '.1'); open({str(log)!r}, 'w').close()"
    program = [PY, "-c", f"import os, sys; print('before rotation', flush=True); {rotate}; "
               "print('after rotation', flush=True); sys.exit(3)"]
    cp = dctl("start", "-n", "job", "--wait", "5", *program)
    assert_one_error(cp, 1)
    assert shown(cp.stderr) == ["before rotation", "after rotation"], cp.stderr


def test_log_truncated_during_the_start(dctl):
    # copytruncate: the file is emptied in place; what follows is this run's.
    log = dctl.logfile("job")
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("ERROR from last week's run, a long line of it\n" * 4)
    program = [PY, "-c", f"import os, sys; print('lost to the copy', flush=True); os.truncate({str(log)!r}, 0); "
               "print('after truncation', flush=True); sys.exit(3)"]
    cp = dctl("start", "-n", "job", "--wait", "5", *program)
    assert_one_error(cp, 1)
    assert shown(cp.stderr) == ["after truncation"], cp.stderr


@pytest.mark.parametrize("opts", [[], ["--log-timestamps"]], ids=["plain", "log-writer"])
def test_a_new_name_whose_start_failed_leaves_only_its_log(dctl, opts):
    """No record, pidfile or lock file of a daemon that never ran: its log alone stays (issue 12 note)."""
    cp = dctl("start", "-n", "job", "--wait", "5", *opts, *fail_with("bad configuration"))
    assert_one_error(cp, 1)
    assert sorted(p.name for p in dctl.logfile("job").parent.iterdir()) == ["job.log"]


def test_a_known_name_whose_restart_failed_keeps_its_lock_and_record(dctl):
    assert dctl("start", "-n", "job", "--wait", "5", *fail_with("bad configuration")).returncode == 1
    assert dctl("start", "-n", "job", PY, "-c", "import time; time.sleep(60)").returncode == 0
    assert dctl("stop", "job").returncode == 0
    cp = dctl("start", "-n", "job", "--wait", "5", *fail_with("still bad"))
    assert_one_error(cp, 1)
    assert {"job.json", "job.lock", "job.log"} <= {p.name for p in dctl.logfile("job").parent.iterdir()}
