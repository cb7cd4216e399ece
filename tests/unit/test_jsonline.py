"""daemonctl.jsonline writes and reads what the json package does, without importing it."""

import json
import subprocess
import sys

import pytest

from daemonctl import jsonline
from daemonctl.record import Record, StartSpec

VALUES = [
    {"a": [1, 2.5, None, True, False, 'quote " and \\ and \n'], "b": {"c": {}}},
    {"snowman": "\u2603", "big": 2**70, "neg": -0.0, "tiny": 5e-324, "huge": 1e300},
    [],
    "text",
    0,
]


@pytest.mark.parametrize("value", VALUES)
def test_writes_what_json_dumps_writes(value):
    assert jsonline.dumps(value) == json.dumps(value)
    assert jsonline.loads(jsonline.dumps(value)) == value


@pytest.mark.parametrize("value", VALUES)
def test_reads_indented_json_with_surrounding_whitespace(value):
    assert jsonline.loads(" \n\t" + json.dumps(value, indent=2) + "\r\n ") == value


def test_a_record_round_trips():
    spec = StartSpec(command=["sleep", "1"], executable="/bin/sleep", pidfile="/p", stdout="/o", stderr="/e", env={"K": "é"})
    record = Record("web", spec, pid=12, starttime=34, boot_id="b", last_exit={"code": 1, "at": "t"})
    assert Record.from_json(jsonline.loads(jsonline.dumps(record.to_json()))) == record


@pytest.mark.parametrize("text", ["", "   ", "{", "[1,]", "{} x", "1 2", "{'a': 1}", '"\x01"', "NaN", "-Infinity", "nul"])
def test_rejects_what_is_not_one_json_value(text):
    with pytest.raises(ValueError):
        jsonline.loads(text)


@pytest.mark.parametrize("value", [float("nan"), {"x": object()}, {(1,): 2}])
def test_refuses_to_write_what_json_cannot_hold(value):
    with pytest.raises((TypeError, ValueError)):
        jsonline.dumps(value)


def test_does_not_import_the_json_package():
    code = "import sys, daemonctl.jsonline as j; j.loads(j.dumps({'a': [1]})); print('json' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_without_the_accelerator_the_json_package_does_the_same(monkeypatch):
    monkeypatch.setattr(jsonline, "make_encoder", None)
    monkeypatch.setattr(jsonline, "make_scanner", None)
    for value in VALUES:
        assert jsonline.dumps(value) == json.dumps(value)
        assert jsonline.loads(" " + json.dumps(value, indent=2)) == value
    with pytest.raises(ValueError):
        jsonline.loads("{} x")
