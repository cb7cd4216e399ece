"""Argument parsing and error mapping, with the core replaced by recording fakes."""

from types import SimpleNamespace

import pytest

from daemonctl import states
from daemonctl.cli import commands
from daemonctl.errors import Failure
from daemonctl.exitcodes import ExitStatus


@pytest.fixture
def captured(monkeypatch):
    calls = {}

    def fake_start(state, options, progress=None):
        calls["start"] = options
        return SimpleNamespace(name=options.name or "x", pid=42, already_running=False, spec=SimpleNamespace(stdout="/l"))

    def fake_stop(state, name, pidfile, schedule):
        calls["stop"] = (name, pidfile, schedule)
        return SimpleNamespace(label=name, pid=42, outcome=states.HALTED, note=None)

    monkeypatch.setattr("daemonctl.start.start", fake_start)
    monkeypatch.setattr("daemonctl.stop.stop", fake_stop)
    return calls


def run(argv, capsys):
    code = commands.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_program_options_pass_through_untouched(captured, capsys):
    code, _, _ = run(["start", "-n", "web", "python3", "app.py", "--name", "x", "-n", "y"], capsys)
    assert code == 0
    assert captured["start"].program == ("python3", "app.py", "--name", "x", "-n", "y")
    assert captured["start"].name == "web"


def test_double_dash_separates_the_program(captured, capsys):
    run(["start", "--wait", "2", "--", "-weird", "--help"], capsys)
    assert captured["start"].program == ("-weird", "--help") and captured["start"].wait == 2.0


def test_options_not_given_stay_none(captured, capsys):
    run(["start", "sleep", "1"], capsys)
    opts = captured["start"]
    assert (opts.pidfile, opts.stdout, opts.stderr, opts.chdir, opts.umask, opts.wait) == (None,) * 6


@pytest.mark.parametrize(
    "argv",
    [["start", "--bogus", "x"], ["start", "--wait", "-1", "x"], ["start", "--umask", "8", "x"],
     ["stop", "-t", "-1", "x"], ["stop", "-t", "1", "--schedule", "TERM/1", "x"], ["stop", "--schedule", "NOPE/1", "x"],
     ["start"], ["nosuchcommand"], ["signal", "x", "NOPE"], ["stop", "-p", "f", "name"], ["stop"]],
)
def test_bad_usage_is_one_line_and_exit_2(captured, capsys, argv):
    code, out, err = run(argv, capsys)
    assert code == ExitStatus.USAGE
    assert err.startswith("daemonctl: error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_core_errors_map_to_their_exit_code(monkeypatch, capsys):
    def failing(state, options, progress=None):
        raise Failure("it broke", log_tail=["last words"])

    monkeypatch.setattr("daemonctl.start.start", failing)
    code, _, err = run(["start", "sleep", "1"], capsys)
    assert code == ExitStatus.FAILURE
    assert err.splitlines()[0] == "daemonctl: error: it broke" and "last words" in err


def test_default_stop_schedule_uses_timeout(captured, capsys):
    run(["stop", "-t", "2.5", "web"], capsys)
    name, pidfile, schedule = captured["stop"]
    assert name == "web" and pidfile is None
    assert [getattr(s, "seconds", None) for s in schedule.steps][1::2] == [2.5, 2.5, 2.5]


def test_version_and_help(capsys):
    assert run(["--version"], capsys)[0] == 0
    code, out, _ = run(["start", "--help"], capsys)
    assert code == 0 and "--pidfile" in out and "--wait" in out


def test_importing_the_cli_does_not_import_psutil_or_the_core():
    import subprocess
    import sys

    code = ("import sys, daemonctl.cli.commands as c\n"
            "before = sorted(m for m in sys.modules if m == 'psutil' or m.startswith('daemonctl.'))\n"
            "c.cli.commands['start']\n"
            "print(before, sorted(m for m in sys.modules if m == 'psutil' or m.startswith('daemonctl.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "psutil" not in out
    before, start = eval(out.replace("] [", "], ["))
    # The group alone: no command is built before it is the one run (cli/speedups.py, trick 10).
    assert before == ["daemonctl.cli", "daemonctl.cli.commands", "daemonctl.cli.error_handler", "daemonctl.cli.params",
                      "daemonctl.cli.speedups", "daemonctl.errors", "daemonctl.exitcodes", "daemonctl.limits"]
    # The declaration of the start options (and the record checks and value parsers it names) is
    # vocabulary, not core.
    assert sorted(set(start) - set(before)) == ["daemonctl.cli.start_commands", "daemonctl.cli.start_params",
                                                "daemonctl.resource_limits", "daemonctl.start_options",
                                                "daemonctl.store", "daemonctl.store.checks"]


def test_building_the_commands_calls_no_gettext():
    """Click's gettext calls load locale and search for message catalogs (trick 4, cli/speedups.py)."""
    import subprocess
    import sys

    code = "import sys, daemonctl.cli.commands\nprint('locale' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


def test_a_start_loads_neither_signal_py_nor_the_modules_of_other_options(tmp_path):
    """What a plain start needs and no more (daemonctl/speedups.py: tricks 7 and 9, lazy imports)."""
    import os
    import subprocess
    import sys

    code = ("import sys\nfrom daemonctl.cli.commands import main\n"
            f"code = main(['--state-dir', {str(tmp_path / 'state')!r}, '-q', 'start', '-n', 'x', '--', '/bin/true'])\n"
            "print(code, sorted(m for m in ('signal', 'ctypes', 'resource', 'pwd', 'grp', 'locale', 'daemonctl.forking',\n"
            "    'daemonctl.proc.adopt', 'daemonctl.store.envfile', 'daemonctl.instances', 'daemonctl.progress')\n"
            "    if m in sys.modules))")
    env = dict(os.environ, DAEMONCTL_CGROUP_ROOT=str(tmp_path / "no-cgroups"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out == "0 []\n"


def test_a_serve_path_that_is_a_directory_is_bad_usage(capsys, tmp_path):
    code, out, err = run(["--state-dir", str(tmp_path), "serve", "--socket", str(tmp_path)], capsys)
    assert code == ExitStatus.USAGE and out == ""
    assert f"Invalid value for '--socket': File '{tmp_path}' is a directory." in err and err.count("\n") == 1
    code, _, err = run(["--state-dir", str(tmp_path), "serve", "--token-file", str(tmp_path)], capsys)
    assert code == ExitStatus.USAGE and "is a directory" in err


@pytest.mark.parametrize("argv", [["-q", "stop", "web"], ["stop", "-q", "web"], ["stop", "--quiet", "web"]])
def test_quiet_silences_messages_not_errors(captured, capsys, argv):
    code, out, err = run(argv, capsys)
    assert code == 0 and out == "" and err == ""
    assert run(["stop", "-q"], capsys)[2].startswith("daemonctl: error: ")


def test_every_command_takes_quiet():
    for name, command in commands.cli.commands.items():
        assert any("--quiet" in p.opts for p in command.params), name


def test_env_file_is_passed_on(captured, capsys):
    run(["start", "--env-file", "prod.env", "sleep", "1"], capsys)
    assert captured["start"].env_file == "prod.env"


@pytest.mark.parametrize("argv", [["export", "upstart", "web"], ["export", "systemd"], ["export", "systemd", "../x"]])
def test_export_bad_usage(capsys, argv, tmp_path):
    code, out, err = run(["--state-dir", str(tmp_path), *argv], capsys)
    assert code == ExitStatus.USAGE and out == "" and err.count("\n") == 1


def _spelled(command_name, args):
    import click

    from daemonctl.cli.speedups import spell_long

    command = commands.cli.commands[command_name] if command_name else commands.cli
    ctx = click.Context(command, info_name=command_name or "daemonctl", help_option_names=["-h", "--help"])
    passthrough = command_name is None or not command.context_settings.get("allow_interspersed_args", True)
    return spell_long(args, command.params, ctx, passthrough)


def test_short_options_are_spelled_long_but_never_the_programs():
    assert _spelled("start", ["-n", "web", "-p", "x.pid", "python3", "-n", "-p"]) == \
        ["--name", "web", "--pidfile", "x.pid", "python3", "-n", "-p"]
    assert _spelled("start", ["-n", "-p", "--", "-n"]) == ["--name", "-p", "--", "-n"]  # -p is -n's value
    assert _spelled("start", ["-nweb", "sleep"]) == ["-nweb", "sleep"]  # attached values stay Click's
    assert _spelled("status", ["web", "-p", "f", "-h"]) == ["web", "--pidfile", "f", "--help"]
    assert _spelled(None, ["-q", "status", "-p", "f"]) == ["--quiet", "status", "-p", "f"]  # the subcommand's own


def test_short_and_long_spellings_parse_alike(captured, capsys):
    run(["start", "-n", "web", "-o", "/tmp/o.log", "-d", "/", "sleep", "-n", "1"], capsys)
    opts = captured["start"]
    assert (opts.name, opts.stdout, opts.chdir, opts.program) == ("web", "/tmp/o.log", "/", ("sleep", "-n", "1"))
    assert run(["status", "-h"], capsys)[0] == 0


def test_no_arguments_print_the_help_not_an_error(capsys):
    code, out, err = run([], capsys)
    assert code == ExitStatus.USAGE
    assert err.startswith("Usage: daemonctl") and "daemonctl: error" not in err and "Commands:" in err


def test_the_console_script_collects_garbage_while_the_command_runs():
    """Collection is off while Click and the CLI are imported, on again for the command."""
    import subprocess
    import sys

    code = (
        "import gc, sys, daemonctl.__main__ as m, daemonctl.cli.commands as cli\n"
        "def probe():\n"
        "    print(gc.isenabled(), gc.get_freeze_count() > 1000, flush=True)\n"
        "    return 0\n"
        "cli.main = probe\n"
        "m.main()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "True"]
