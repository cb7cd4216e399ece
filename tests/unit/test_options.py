import os

import pytest

from daemonctl.errors import NoProgram, ProgramNotFound, UsageError
from daemonctl.exitcodes import ExitStatus
from daemonctl.options import StartOptions
from daemonctl.program_path import find_program
from daemonctl.spec_merge import build_spec, override
from daemonctl.start_options import parse_env, parse_umask
from daemonctl.store.record import Record
from daemonctl.store.statedir import StateDir


@pytest.fixture
def bindir(tmp_path):
    d = tmp_path / "bin"
    d.mkdir()
    prog = d / "prog"
    prog.write_text("#!/bin/sh\n")
    prog.chmod(0o755)
    (d / "noexec").write_text("")
    return d


def test_find_program_in_path_and_relative(bindir, tmp_path):
    assert find_program("prog", f"/nonexistent:{bindir}", "/") == str(bindir / "prog")
    assert find_program("bin/prog", None, str(tmp_path)) == str(bindir / "prog")


@pytest.mark.parametrize("program", ["missing", "noexec", "./bin", "/nonexistent/x", ""])
def test_find_program_failures_exit_5(bindir, tmp_path, program):
    with pytest.raises(ProgramNotFound) as err:
        find_program(program, str(bindir), str(tmp_path))
    assert err.value.exit_code == ExitStatus.NOT_FOUND


def test_parse_env_and_umask():
    assert parse_env(("A=1", "B=", "C=x=y")) == {"A": "1", "B": "", "C": "x=y"}
    assert parse_umask("027") == 0o027 and parse_umask("0") == 0
    for bad in (("NOEQ",), ("=v",)):
        with pytest.raises(UsageError):
            parse_env(bad)
    for bad in ("999", "1000", "x", "-1"):
        with pytest.raises(UsageError):
            parse_umask(bad)


def test_build_spec_defaults_resolve_against_cwd(bindir, tmp_path):
    state = StateDir(tmp_path / "state")
    opts = StartOptions(program=("prog", "--name", "x"), stdout="out.log", pidfile="run/p.pid")
    name, spec = build_spec(opts, state, None, "/work", {"PATH": str(bindir)})
    assert name == "prog"
    assert spec.command == ["prog", "--name", "x"] and spec.executable == str(bindir / "prog")
    assert spec.stdout == spec.stderr == "/work/out.log" and spec.pidfile == "/work/run/p.pid"
    assert spec.chdir == "/" and spec.umask == 0o022 and spec.wait == 0.0


def test_build_spec_without_program_uses_the_record(bindir, tmp_path):
    state = StateDir(tmp_path)
    _, spec = build_spec(StartOptions(program=("prog",), env={"A": "1"}), state, None, "/", {"PATH": str(bindir)})
    rec = Record("prog", spec)
    name, again = build_spec(StartOptions(name="prog", umask=0o077, env={"B": "2"}), state, rec, "/", {})
    assert again.command == ["prog"] and again.umask == 0o077 and again.env == {"A": "1", "B": "2"}
    with pytest.raises(NoProgram) as err:
        build_spec(StartOptions(name="ghost"), state, None, "/", {})
    assert err.value.exit_code == ExitStatus.NO_PROGRAM


def test_override_moves_stderr_with_stdout_when_they_were_one(bindir, tmp_path):
    _, spec = build_spec(StartOptions(program=("prog",)), StateDir(tmp_path), None, "/", {"PATH": str(bindir)})
    moved = override(spec, StartOptions(stdout="/new.log"), "/")
    assert moved.stdout == moved.stderr == "/new.log"


def test_unusable_default_name_asks_for_one(tmp_path):
    with pytest.raises(UsageError, match="-n NAME"):
        build_spec(StartOptions(program=("/bin/.hidden",)), StateDir(tmp_path), None, "/", dict(os.environ))


@pytest.mark.parametrize("given", [{"stdout": "/dev/null"}, {"stdout": "/dev/null", "syslog": "daemon"},
                                   {"stdout": "/dev/null", "stderr": "/dev/null", "log_timestamps": True}])
def test_ready_log_without_a_log_to_watch_is_bad_usage(bindir, tmp_path, given):
    # Lines sent only to syslog (or nowhere) never reach a file --ready-log could watch.
    opts = StartOptions(program=("prog",), ready_log="up", **given)
    with pytest.raises(UsageError, match="--ready-log needs a log to watch") as err:
        build_spec(opts, StateDir(tmp_path), None, "/", {"PATH": str(bindir)})
    assert err.value.exit_code == ExitStatus.USAGE


def test_ready_log_with_one_of_the_two_logs_is_fine(bindir, tmp_path):
    for given in ({"stdout": "/dev/null", "stderr": "err.log"}, {"stderr": "/dev/null"}):
        _, spec = build_spec(StartOptions(program=("prog",), ready_log="up", **given), StateDir(tmp_path), None, "/",
                             {"PATH": str(bindir)})
        assert spec.ready_log == "up"


def test_ready_log_recorded_then_both_logs_discarded_is_bad_usage(bindir, tmp_path):
    state = StateDir(tmp_path)
    _, spec = build_spec(StartOptions(program=("prog",), ready_log="up"), state, None, "/", {"PATH": str(bindir)})
    with pytest.raises(UsageError, match="--ready-log needs a log to watch"):
        build_spec(StartOptions(name="prog", stdout="/dev/null"), state, Record("prog", spec), "/", {})
