"""Sets of instances, as pure logic (instances.py): names, %i, the template, the plans."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemonctl.errors import UsageError
from daemonctl.instances import (
    INSTANCE_ENV,
    INSTANCES_ENV,
    Outcome,
    check_count,
    escape,
    instance_command,
    instance_spec,
    members,
    plan_scale,
    roll,
    set_exit,
    set_name,
    split,
    substitute,
    template_of,
    template_over,
)
from daemonctl.store.record import Record, StartSpec
from daemonctl.store.schema import check


@pytest.mark.parametrize(("text", "number", "expected"), [
    ("80%i", 3, "803"),
    ("%i", 12, "12"),
    ("100%%", 1, "100%"),
    ("%%i", 5, "%i"),  # %% first: a literal %, then a plain i
    ("%%%i", 5, "%5"),
    ("a%b", 1, "a%b"),  # any other % stays
    ("end%", 1, "end%"),
    ("", 1, ""),
    ("no percent", 7, "no percent"),
])
def test_substitute(text, number, expected):
    assert substitute(text, number) == expected


@given(st.text())
def test_an_escaped_text_comes_back_whole_for_every_number(text):
    assert substitute(escape(text), 7) == text


def test_program_itself_is_not_substituted_only_its_arguments():
    assert instance_command(["/opt/%i/run", "--port", "80%i", "%%"], 2) == ["/opt/%i/run", "--port", "802", "%"]


@pytest.mark.parametrize("name", ["web", "a.b", "x_1"])
def test_a_set_name_without_at_is_accepted(name):
    assert set_name(name) == name


@pytest.mark.parametrize("name", ["web@1", "web@", "@web", "-web", "", "a" * 65])
def test_a_set_name_with_at_or_invalid_is_refused(name):
    with pytest.raises(UsageError):
        set_name(name)


@pytest.mark.parametrize("count", [0, -1, 1025])
def test_count_out_of_range_is_refused(count):
    with pytest.raises(UsageError):
        check_count(count)


def test_count_in_range():
    assert check_count(1) == 1 and check_count(1024) == 1024


@pytest.mark.parametrize(("name", "parts"), [
    ("web@1", ("web", 1)),
    ("web@1024", ("web", 1024)),
    ("a.b@17", ("a.b", 17)),
    ("web@0", None),
    ("web@01", None),
    ("web@1025", None),
    ("web@x", None),
    ("web", None),
    ("a@b@1", None),
])
def test_split(name, parts):
    assert split(name) == parts


def test_members_are_the_sets_instances_in_number_order():
    names = ["web@10", "web@2", "web", "webby@1", "web@1", "api@1", "web@x", "web@0"]
    assert members(names, "web") == {1: "web@1", 2: "web@2", 10: "web@10"}
    assert members(names, "nothing") == {}


def test_template_defaults_name_each_instance_and_escape_the_state_dir():
    template = template_of(("prog", "%i"), {}, "web", "/var/100%", "/home")
    assert template["pidfile"] == "/var/100%%/web@%i.pid"
    assert template["stdout"] == template["stderr"] == "/var/100%%/web@%i.log"
    assert substitute(template["pidfile"], 3) == "/var/100%/web@3.pid"
    assert template["command"] == ["prog", "%i"]
    assert template["chdir"] == "/" and template["env"] == {} and template["ready_port"] is None


def test_template_paths_given_are_absolute_against_the_escaped_cwd():
    template = template_of(("prog",), {"stdout": "logs/%i.out", "ready_port": "90%i"}, "web", "/s", "/srv/50%")
    assert template["stdout"] == template["stderr"] == "/srv/50%%/logs/%i.out"
    assert template["ready_port"] == "90%i"


def test_template_over_merges_env_and_moves_stderr_with_stdout():
    template = template_of(("prog",), {"env": {"A": "%i"}}, "web", "/s", "/")
    new = template_over(template, {"env": {"B": "x%i"}, "stdout": "/l/%i"}, "/")
    assert new["env"] == {"A": "%i", "B": "x%i"}
    assert new["stdout"] == new["stderr"] == "/l/%i"
    assert template["stdout"] == "/s/web@%i.log"  # the recorded one is not changed


def test_instance_spec_substitutes_everywhere_the_contract_lists_and_sets_the_environment():
    template = template_of(("prog", "--port", "80%i"), {
        "env": {"PORT": "80%i"}, "chdir": "/srv/%i", "ready_file": "/run/%i.ready",
        "ready_port": "80%i", "ready_log": "worker %i up",
    }, "web", "/s", "/")
    base = StartSpec(["prog"], "/bin/prog", "/x", "/x", "/x")
    spec = instance_spec(base, template, 2, 4)
    assert spec.command == ["prog", "--port", "802"]
    assert spec.env == {"PORT": "802", INSTANCE_ENV: "2", INSTANCES_ENV: "4"}
    assert (spec.chdir, spec.pidfile, spec.stdout, spec.stderr) == ("/srv/2", "/s/web@2.pid", "/s/web@2.log", "/s/web@2.log")
    assert (spec.ready_file, spec.ready_port, spec.ready_log) == ("/run/2.ready", "802", "worker 2 up")
    assert (spec.instance, spec.instances, spec.template) == (2, 4, template)
    assert spec.executable == "/bin/prog"


def test_an_instance_record_round_trips_and_the_schema_checks_its_template():
    template = template_of(("prog", "%i"), {"env": {"A": "%i"}}, "web", "/s", "/")
    spec = instance_spec(StartSpec(["prog"], "/bin/prog", "/x", "/x", "/x"), template, 1, 2)
    data = Record("web@1", spec).to_json()
    assert Record.from_json(data).spec == spec
    for bad in ({"command": []}, {"env": {}}, {"command": ["x"], "nope": "1"}, {"command": ["x"], "chdir": 5}, []):
        with pytest.raises(ValueError):
            check({**data, "template": bad})
    with pytest.raises(ValueError):
        check({**data, "instance": 0})


@pytest.mark.parametrize(("running", "recorded", "count", "plan"), [
    ([], [], 3, ([1, 2, 3], [], [])),
    ([1, 2, 3], [1, 2, 3], 5, ([4, 5], [1, 2, 3], [])),
    ([1, 2, 3, 4, 5], [1, 2, 3, 4, 5], 2, ([], [1, 2], [3, 4, 5])),
    ([1, 3], [1, 2, 3, 4], 3, ([2], [1, 3], [4])),  # a stopped one is started, a stopped one above goes
    ([7], [7], 2, ([1, 2], [], [7])),
])
def test_plan_scale(running, recorded, count, plan):
    assert tuple(plan_scale(running, recorded, count)) == plan


def test_roll_goes_in_order_and_stops_at_the_first_failure():
    done = []

    def restart(number):
        if number == 3:
            raise RuntimeError("not ready")
        done.append(number)

    outcomes = roll([1, 2, 3, 4, 5], restart)
    assert done == [1, 2]
    assert [o.number for o in outcomes] == [1, 2, 3]
    assert outcomes[-1].error is not None and outcomes[0] == Outcome(1)


def test_roll_of_all_good():
    assert [o.error for o in roll([1, 2], lambda n: None)] == [None, None]


@pytest.mark.parametrize(("codes", "expected"), [
    ([0, 0, 0], 0),
    ([0, 1, 3], 1),
    ([0, 3], 3),
    ([3, 3], 3),
    ([0, 4], 3),  # not "all run": the unknown one is listed as unknown
    ([1, 4], 1),
    ([], 3),
])
def test_set_exit(codes, expected):
    assert set_exit(codes) == expected
