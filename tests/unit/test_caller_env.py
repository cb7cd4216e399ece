"""The recorded environment: its validation, and which environment a start gives the program."""
import json

import pytest

from daemonctl.errors import Failure, UsageError
from daemonctl.program_env import program_env, recordable
from daemonctl.spec_merge import inherited
from daemonctl.store.record import MAX_ENV_BYTES, CorruptRecord, Record, StartSpec, check_environment, encode, load

SPEC = StartSpec(["/bin/sleep", "1"], "/bin/sleep", "/s/a.pid", "/s/a.log", "/s/a.log")


def test_program_env_layers():
    spec = SPEC._replace(caller_env={"A": "recorded", "B": "recorded", "C": "recorded"}, env={"C": "env"})
    env = program_env(spec, {"A": "caller", "Z": "caller"}, {"B": "account"})
    assert env == {"A": "recorded", "B": "account", "C": "env"}


def test_old_record_without_environment_inherits_the_callers():
    assert program_env(SPEC, {"A": "caller"}) == {"A": "caller"}
    assert inherited(SPEC, {"A": "caller"}, update=False).caller_env == {"A": "caller"}


def test_update_replaces_the_recorded_environment():
    spec = SPEC._replace(caller_env={"A": "recorded"})
    assert inherited(spec, {"A": "caller"}, update=False).caller_env == {"A": "recorded"}
    assert inherited(spec, {"A": "caller"}, update=True).caller_env == {"A": "caller"}


@pytest.mark.parametrize("bad", [["A=1"], {"A": 1}, {"A": None}, "A=1"])
def test_malformed_environment_is_refused_without_quoting_it(bad):
    with pytest.raises(TypeError) as err:
        check_environment(bad)
    assert "1" not in str(err.value)


def test_environment_size_is_bounded(tmp_path):
    big = {"BIG": "x" * MAX_ENV_BYTES}
    with pytest.raises(ValueError):
        check_environment(big)
    with pytest.raises(UsageError):
        recordable(big)
    with pytest.raises(Failure):  # never written: it would not load again
        encode(Record("a", SPEC._replace(caller_env=big)))
    path = tmp_path / "r.json"
    path.write_text(json.dumps(Record("a", SPEC._replace(caller_env=big)).to_json()))
    with pytest.raises(CorruptRecord):
        load(str(path))


def test_round_trip(tmp_path):
    path = tmp_path / "r.json"
    spec = SPEC._replace(caller_env={"PATH": "/usr/bin", "Ü": "ä\n"})
    path.write_bytes(encode(Record("a", spec)))
    assert load(str(path)).spec.caller_env == spec.caller_env
