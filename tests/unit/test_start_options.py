"""The start options are declared once (start_options.py): what is derived from the declaration agrees with it."""

import click
import pytest

from daemonctl.cli import start_params
from daemonctl.errors import UsageError
from daemonctl.export import supervisor, systemd
from daemonctl.export.base import Notes, declared, undeclared
from daemonctl.options import StartOptions, parse_given
from daemonctl.spec_merge import override
from daemonctl.start_options import (
    BY_NAME,
    CHOICE,
    COUNT,
    DEFAULTS,
    DERIVED,
    FLAG,
    OPTIONS,
    PATH,
    RECORDED,
    Option,
    absolute,
    directive,
    parse_size,
    update,
)
from daemonctl.store import schema
from daemonctl.store.record import Record, StartSpec

NOT_OPTIONS = ("command", "executable", "caller_env", "instance", "template")  # StartSpec fields that no option sets


def test_startspec_has_one_field_per_recorded_option_with_its_default():
    assert set(StartSpec._fields) - set(NOT_OPTIONS) == {option.name for option in RECORDED}
    for option in RECORDED:
        if option.default is DERIVED:
            assert option.name not in StartSpec._field_defaults, option.name
        else:
            assert StartSpec._field_defaults[option.name] == option.default, option.name


def test_the_record_checks_each_recorded_option_with_its_declared_check():
    for option in RECORDED:
        assert schema.FIELDS[option.name] is option.record
    assert {option.name for option in RECORDED if option.default is DERIVED} <= set(schema.REQUIRED)
    # Not recorded: update_env; name is the Record's own field, not the spec's.
    assert {option.name for option in OPTIONS if option.record is None} & set(schema.FIELDS) == {"name"}


def test_a_converted_option_round_trips_through_the_record():
    spec = StartSpec(["x"], "/bin/x", "/p", "/o", "/o", umask=0o027)
    data = Record("x", spec).to_json()
    assert data["umask"] == "027"
    assert Record.from_json(data).spec.umask == 0o027


def test_every_option_has_a_long_flag_and_a_help_that_formats():
    for option in OPTIONS:
        assert option.flag.startswith("--") and option.flag[2:].replace("-", "_") == option.name
        assert "{" not in option.help.format(default=option.shown_default())
    assert BY_NAME["umask"].shown_default() == "022" and BY_NAME["restart_delay"].shown_default() == "1"


def test_the_click_options_are_the_declared_ones_in_order():
    command = start_params.start_options(lambda **kw: kw)
    names = [p.name for p in reversed(command.__click_params__)]
    assert names == [option.name for option in OPTIONS]


def test_start_options_read_unset_options_as_not_given():
    opts = StartOptions(program=("x",), wait=0.0, env={}, notify=False, respawn=None)
    assert opts.given == {"wait": 0.0}
    assert (opts.wait, opts.notify, opts.env, opts.pidfile) == (0.0, False, None, None)
    with pytest.raises(TypeError):
        StartOptions(bogus=1)


def test_given_options_merge_as_declared():
    spec = StartSpec(["x"], "/bin/x", "/p", "/o", "/o", env={"A": "1"})
    merged = override(spec, StartOptions(stdout="log", env={"B": "2"}, nice=3), "/home")
    assert (merged.stdout, merged.stderr, merged.env, merged.nice) == ("/home/log", "/home/log", {"A": "1", "B": "2"}, 3)
    with pytest.raises(UsageError, match="--env takes KEY=VALUE"):
        parse_given({"env": ("X",), "umask": None})


def test_export_writes_declared_directives_and_names_the_others():
    spec = StartSpec(["x"], "/bin/x", "/p", "/o", "/o", nice=5)
    assert declared(spec, "systemd") == ["Nice=5"]
    notes = Notes(";")
    assert undeclared(spec, "supervisor", supervisor.BY_HAND - {"nice"}, "supervisord", notes) == [
        "; not exported: --nice 5: supervisord has no equivalent"]
    assert notes.lines == ["--nice 5: supervisord has no equivalent"]
    for target, by_hand in (("systemd", systemd.BY_HAND), ("supervisor", supervisor.BY_HAND)):
        assert not {option.name for option in RECORDED if target in option.export} & by_hand, target
        assert by_hand <= {option.name for option in RECORDED}, target


# The shapes of the options being built (containment, logs): the declaration expresses each one.
SHAPES = (
    Option("memory_max", ("--memory-max",), "Memory limit.", metavar="SIZE", parse=parse_size("--memory-max"),
           export={"systemd": directive("MemoryMax")}),
    Option("limit", ("--limit",), "A setrlimit (repeatable).", metavar="RESOURCE=SOFT[:HARD]", multiple=True,
           parse=lambda items: dict(item.split("=", 1) for item in items), merge=update),
    Option("log_keep", ("--log-keep",), "Rotated files kept (default {default}).", metavar="N", kind=COUNT, default=5),
    Option("log_timestamps", ("--log-timestamps",), "Prefix every line with its time.", kind=FLAG, default=False),
    Option("syslog", ("--syslog",), "Send the lines to syslog as well.", metavar="[=FACILITY]", kind=CHOICE,
           choices=("daemon", "local0", "user"), bare="daemon"),
    Option("pid_from", ("--pid-from",), "The pidfile the program writes.", metavar="PATH", kind=PATH,
           merge=absolute()),
)


@pytest.mark.parametrize(("argv", "expected"), [
    (["--syslog", "prog"], {"syslog": "daemon"}),
    (["--syslog", "local0", "prog"], {"syslog": "local0"}),
    (["--syslog=user", "prog"], {"syslog": "user"}),
    (["--memory-max", "1G", "--limit", "nofile=1024:2048", "--limit", "core=unlimited", "prog"],
     {"memory_max": 1 << 30, "limit": {"nofile": "1024:2048", "core": "unlimited"}}),
    (["--log-timestamps", "--log-keep", "3", "--pid-from", "run/x.pid", "prog"],
     {"log_timestamps": True, "log_keep": 3, "pid_from": "run/x.pid"}),
])
def test_the_declaration_expresses_repeatable_optional_value_flag_and_size_options(argv, expected):
    seen = {}

    def run(**kw):
        seen.update({k: v for k, v in kw.items() if v not in (None, False, ())})

    command = run
    for option in reversed(SHAPES):
        command = start_params.click_option(option)(command)
    command = click.argument("program", nargs=-1)(command)
    cmd = click.command(context_settings={"allow_interspersed_args": False})(command)
    value_options = {f for o in SHAPES if o.kind != FLAG and o.bare is None for f in o.flags}
    args = start_params.bare_values(argv, value_options, SHAPES)
    cmd.main(args=args, standalone_mode=False)
    program = seen.pop("program")
    parsers = {o.name: o.parse for o in SHAPES}
    values = {k: parsers[k](v) if parsers[k] else v for k, v in seen.items()}
    assert program == ("prog",) and values == expected


def test_a_size_is_bytes_or_a_binary_unit():
    parse = parse_size("--memory-max")
    assert [parse(t) for t in ("512", "4K", "1m", "2G")] == [512, 4096, 1 << 20, 2 << 30]
    for bad in ("", "G", "1.5G", "-1", "1X", "١٢"):
        with pytest.raises(UsageError, match="--memory-max takes a size"):
            parse(bad)


def test_defaults_appear_once():
    assert DEFAULTS["ready_timeout"] == 30.0 and DEFAULTS["max_restarts"] == 10


def test_the_supervisor_reads_recorded_options_as_declared():
    from daemonctl.start_options import recorded
    from daemonctl.supervise.resident import Spec

    data = {"executable": "/bin/x", "command": ["x"], "stdout": "/o", "stderr": "/o", "umask": "027"}
    assert (recorded(data, "umask"), recorded(data, "ready_timeout"), recorded(data, "forking")) == (0o27, 30.0, False)
    spec = Spec(data)  # a record older than most options: their defaults
    assert (spec.umask, spec.chdir, spec.policy.max_restarts, spec.ready_timeout) == (0o27, "/", 10, 30.0)
