import json

import pytest

from daemonctl import states
from daemonctl.proc.procfs import Identity
from daemonctl.store import record


def make_record() -> record.Record:
    spec = record.StartSpec(
        command=["python3", "app.py", "--name", "x"], executable="/usr/bin/python3",
        pidfile="/s/web.pid", stdout="/s/web.log", stderr="/s/web.log",
        chdir="/srv", umask=0o027, env={"A": "1"}, wait=1.5,
    )
    return record.Record("web", spec)


def test_round_trip_through_json(tmp_path):
    rec = make_record().running(Identity(77, 12345, "boot"))
    path = tmp_path / "web.json"
    record.save(path, rec)
    assert record.load(path) == rec
    data = json.loads(path.read_text())
    assert data["umask"] == "027" and data["state"] == "running" and data["starttime"] == 12345
    assert oct(path.stat().st_mode & 0o777) == "0o600"  # env may hold secrets


def test_stopped_keeps_the_spec():
    rec = make_record().running(Identity(77, 1, "b")).stopped()
    assert rec.state == states.STOPPED and rec.spec == make_record().spec and rec.stopped_at


def test_identity_only_with_all_parts():
    assert make_record().identity is None
    assert make_record().running(Identity(5, 6, "b")).identity == Identity(5, 6, "b")


@pytest.mark.parametrize(
    "content",
    [b"", b"not json", b"[]", b'{"name": "x"}', b"\xff\xfe", b'{"name": "x", "command": "sleep", "executable": "/bin/sleep",'
     b' "pidfile": "p", "stdout": "o", "stderr": "e"}', b'{"name": "x", "command": ["a"], "executable": "/a", "pidfile": "p",'
     b' "stdout": "o", "stderr": "e", "pid": "12"}'],
)
def test_corrupt_records_raise(tmp_path, content):
    path = tmp_path / "x.json"
    path.write_bytes(content)
    with pytest.raises(record.CorruptRecord):
        record.load(path)


def test_missing_record_is_none(tmp_path):
    assert record.load(tmp_path / "none.json") is None


@pytest.mark.parametrize("key", ["pid", "supervisor_pid"])
@pytest.mark.parametrize("pid", [0, -1, 1])
def test_a_record_naming_pid_0_or_1_or_negative_is_corrupt(tmp_path, key, pid):
    """Such a PID would turn into kill(0), kill(-1) or a signal to init: a record never holds one."""
    path = tmp_path / "x.json"
    good = make_record().running(Identity(5, 6, "b"))
    data = good.to_json()
    data[key] = pid
    path.write_text(json.dumps(data))
    with pytest.raises(record.CorruptRecord, match=f"field {key} must be an integer from 2 to "):
        record.load(path)


@pytest.mark.parametrize("key", ["executable", "pidfile", "stdout", "stderr", "chdir"])
def test_a_record_with_a_relative_path_is_corrupt(tmp_path, key):
    """daemonctl writes every path absolute: a relative one would follow the caller's cwd."""
    path = tmp_path / "x.json"
    data = make_record().to_json()
    data[key] = "a.pid"
    path.write_text(json.dumps(data))
    with pytest.raises(record.CorruptRecord, match=f"field {key} must be an absolute path"):
        record.load(path)


def test_the_size_bound_is_never_below_the_encoding() -> None:
    """schema.size_bound reserves a record's bytes before the fork, without json: never too few."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from daemonctl.store import schema

    leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
    tree = st.recursive(leaf, lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=30)

    @settings(max_examples=300, deadline=None)
    @given(tree)
    def check(value: object) -> None:
        import json

        assert schema.size_bound(value) >= len(json.dumps(value, allow_nan=False))

    check()
    for text in ["\x00\x1f\"\\", "é" * 10, "\U0001f600" * 10, ""]:
        import json

        assert schema.size_bound(text) >= len(json.dumps(text))


def test_a_reservation_holds_the_record_and_checks_it() -> None:
    from daemonctl.errors import Failure

    blank = make_record()
    assert record.reservation(blank) >= len(record.encode(blank))
    huge = blank._replace(spec=blank.spec._replace(env={f"X{i}": "a" * 100_000 for i in range(15)}))
    assert record.reservation(huge) == len(record.encode(huge))  # near the limit: counted exactly
    with pytest.raises(Failure, match="cannot record web"):
        record.reservation(blank._replace(spec=blank.spec._replace(chdir="srv")))  # not absolute
