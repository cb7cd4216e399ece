"""The Ansible module's start options (integrations/ansible) follow start_options.OPTIONS, and
status --json shows the recorded options it compares, never the caller's environment.

Plain Python: neither test imports Ansible (the module is read as text and its table with ast).
"""

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from daemonctl import start_options
from daemonctl.start_options import RECORDED, Option
from daemonctl.status import Report, recorded_options
from daemonctl.store.record import StartSpec

ANSIBLE = Path(__file__).resolve().parents[2] / "integrations" / "ansible"
MODULE = ANSIBLE / "plugins" / "modules" / "daemon.py"


def load_generator():
    spec = importlib.util.spec_from_file_location("ansible_generate", ANSIBLE / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def module_table() -> list[tuple]:
    tree = ast.parse(MODULE.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "START_OPTIONS":
            return [tuple(ast.literal_eval(e) if not isinstance(e, ast.Name) else e.id for e in item.elts)
                    for item in node.value.elts]
    raise AssertionError("no START_OPTIONS in the module")


def test_the_module_is_generated_from_the_declared_options():
    generate = load_generator()
    text = MODULE.read_text()
    assert generate.render(text) == text, (
        "integrations/ansible/plugins/modules/daemon.py is out of date with start_options.py: "
        "run .venv/bin/python integrations/ansible/generate.py")
    cp = subprocess.run([sys.executable, str(ANSIBLE / "generate.py"), "--check"], capture_output=True, text=True)
    assert cp.returncode == 0, cp.stderr


def test_the_module_takes_every_recorded_option_with_its_flag_and_default():
    table = {row[0]: row for row in module_table()}
    assert list(table) == [option.name for option in RECORDED]
    for option in RECORDED:
        name, flag, _kind, default, choices, per_instance = table[option.name]
        assert flag == option.flag and tuple(choices) == option.choices and per_instance == option.per_instance
        if option.default is start_options.DERIVED:
            assert default == "DERIVED"
        else:
            assert default == option.to_json(option.default)


def test_an_option_the_module_cannot_compare_stops_the_generator():
    generate = load_generator()
    odd = Option("odd", ("--odd",), "An option parsed some new way.", parse=lambda text: text, record=lambda v: None)
    with pytest.raises(generate.Unknown, match="--odd"):
        generate.kind(odd)
    assert generate.kind(start_options.BY_NAME["umask"]) == "octal"
    assert generate.kind(start_options.BY_NAME["env"]) == "env"


def test_status_json_shows_the_recorded_options_and_not_the_callers_environment():
    spec = StartSpec(command=["web"], executable="/bin/web", pidfile="/s/web.pid", stdout="/s/web.log",
                     stderr="/s/web.log", umask=0o27, env={"GIVEN": "1"}, caller_env={"SECRET": "s3cr3t"})
    options = recorded_options(spec)
    assert list(options) == [option.name for option in RECORDED]
    assert options["umask"] == "027" and options["env"] == {"GIVEN": "1"}
    report = Report("web", "running", 5, "/s/web.pid", ["web"], None, None, None, options=options)
    shown = json.dumps(report.to_json())
    assert "s3cr3t" not in shown and "SECRET" not in shown and "caller_env" not in shown
    assert report.to_json()["options"]["env"] == {"GIVEN": "1"}
