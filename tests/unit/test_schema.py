"""The record's schema (daemonctl.store.schema): one declaration, checked whole on every load."""
import json
import os

import pytest

from daemonctl import states
from daemonctl.errors import Failure
from daemonctl.proc.procfs import Identity
from daemonctl.store import checks, record, schema
from daemonctl.store.schema import FIELDS, Invalid, check, dump, parse

SPEC = record.StartSpec(
    command=["python3", "app.py"], executable="/usr/bin/python3", pidfile="/s/web.pid",
    stdout="/s/web.log", stderr="/s/web.log", chdir="/srv", umask=0o027, env={"A": "1"}, wait=1.5,
    respawn="always", ready_port="[::1]:8080", ready_log="^ready$", user="www", nice=-5,
)
FULL = record.Record("web", SPEC, pid=77, starttime=123, boot_id="b", started_at="2026-11-30T20:00:00+00:00",
                     supervisor_pid=76, supervisor_starttime=120, restarts=3,
                     last_exit={"signal": 9, "at": "2026-11-30T20:00:00+00:00"}).running(Identity(77, 123, "b"))


def good() -> dict:
    return FULL.to_json()


def test_every_field_of_record_and_start_spec_is_declared_once():
    """Adding a field to Record or StartSpec without declaring it here fails this test (and every load)."""
    written = set(good())
    assert written == set(FIELDS), f"declare {sorted(written - set(FIELDS))} in schema.FIELDS; " \
                                   f"or remove {sorted(set(FIELDS) - written)}"
    assert set(schema.REQUIRED) <= set(FIELDS)


def test_a_full_record_round_trips():
    raw = dump(good())
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1
    assert record.Record.from_json(parse(raw)) == FULL


def test_older_records_without_optional_fields_load_with_the_defaults():
    minimal = {k: good()[k] for k in schema.REQUIRED}
    rec = record.Record.from_json(check(minimal))
    assert rec.state == states.STOPPED and rec.spec.umask == 0o022 and rec.spec.ready_timeout == 30.0


@pytest.mark.parametrize("field,value", [
    ("pid", 0), ("pid", 1), ("pid", -1), ("pid", 2**22 + 1), ("pid", 2**31), ("pid", True), ("pid", "12"), ("pid", 1.0),
    ("supervisor_pid", 2**64), ("starttime", -1), ("starttime", 2**63), ("supervisor_starttime", 0.5),
    ("restarts", -1), ("restarts", None), ("max_restarts", 2**31), ("nice", 20), ("nice", -21),
    ("wait", -0.1), ("wait", float("inf")), ("wait", float("nan")), ("wait", "1"), ("wait", 1_000_001),
    ("ready_timeout", 0), ("min_uptime", None), ("restart_delay", False),
    ("state", "zombie"), ("state", None), ("respawn", "sometimes"), ("format", 2), ("format", "1"), ("notify", 1),
    ("command", []), ("command", "sleep"), ("command", [1]), ("command", ["a\0"]), ("command", ["\ud800"]),
    ("command", ["\udc7f"]), ("command", ["x" * (checks.MAX_ARG + 1)]),
    ("executable", "bin/sleep"), ("pidfile", ""), ("stdout", "/a\0"), ("chdir", "/" * 5000), ("stderr", None),
    ("env_file", "rel"), ("ready_file", 5),
    ("env", []), ("env", {"K": 1}), ("env", {"": "v"}), ("env", {"A=B": "v"}), ("env", {"K": "\0"}),
    ("umask", 18), ("umask", "999"), ("umask", "1777"), ("umask", ""), ("umask", "0o22"),
    ("ready_port", 80), ("ready_port", "80000"), ("ready_port", ":80"), ("ready_port", "host:"), ("ready_port", "٣"),
    ("ready_log", "("), ("ready_log", 5),
    ("user", ""), ("user", 0), ("group", "g" * 300), ("boot_id", 5), ("name", ""), ("name", ["web"]),
    ("started_at", "yesterday"), ("started_at", 5), ("stopped_at", "2026" + "0" * 60),
    ("last_exit", []), ("last_exit", {"code": 1}), ("last_exit", {"code": 256, "at": "2026-11-30T20:00:00+00:00"}),
    ("last_exit", {"signal": 0, "at": "2026-11-30T20:00:00+00:00"}), ("last_exit", {"code": 1, "signal": 9, "at": "x"}),
    ("last_exit", {"code": 1, "at": [["2026"]]}),
])
def test_a_wrong_field_is_named_in_one_line(field, value):
    data = good()
    data[field] = value
    with pytest.raises(Invalid) as caught:
        check(data)
    message = str(caught.value)
    assert caught.value.field == field and message.startswith(f"field {field} ")
    assert "\n" not in message and "\0" not in message and len(message) < 200
    with pytest.raises(record.CorruptRecord, match=f"^is corrupt: field {field} "):
        record.Record.from_json(data)


@pytest.mark.parametrize("field,value", [
    ("pid", 2), ("pid", 2**22), ("starttime", 0), ("starttime", 2**63 - 1), ("wait", 0), ("wait", 1_000_000),
    ("ready_timeout", 0.001), ("nice", -20), ("nice", 19), ("umask", "0"), ("umask", "0777"), ("max_restarts", 0),
    ("ready_port", "8080"), ("ready_port", "example.org:1"), ("ready_port", "[::1]:65535"), ("env", {}),
    ("command", ["/bin/x", ""]), ("boot_id", None), ("last_exit", {"code": 0, "at": "2026-11-30T20:00:00.5+00:00"}),
    ("user", "1000:1000"), ("command", ["\u00e9\U0001f600"]),
    ("command", ["sleep", "\udcff"]), ("caller_env", {"LATIN1": "caf\udce9"}),  # non-UTF-8 bytes, as os.environ holds them
])
def test_values_daemonctl_writes_are_accepted(field, value):
    data = good()
    data[field] = value
    assert check(data) is data


def test_a_missing_required_field_is_named():
    data = good()
    del data["executable"]
    with pytest.raises(Invalid, match="^field executable is missing$"):
        check(data)


def test_an_unknown_field_is_refused_and_quoted_safely():
    data = good()
    data["x\0\n" * 20] = 1
    with pytest.raises(Invalid) as caught:
        check(data)
    assert "is unknown" in str(caught.value) and "\n" not in str(caught.value) and "\0" not in str(caught.value)


@pytest.mark.parametrize("raw,problem", [
    (b"", "not valid JSON"), (b"{", "not valid JSON"), (b'{"a": "\\ud800', "not valid JSON"),
    (b"[]", "not a JSON object"), (b'"x"', "not a JSON object"), (b"null", "not a JSON object"),
    (b"\xff{}", "not UTF-8"), (b'{"name": "\xed\xa0\x80"}', "not UTF-8"),
    (b'{"wait": NaN}', "not valid JSON"), (b'{"wait": -Infinity}', "not valid JSON"),
    (b'{"pid": ' + b"9" * 5000 + b"}", "not valid JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"), (b'{"a": ' * 100_000, "nested too deeply"),
    (b" " * (schema.MAX_BYTES + 1), "larger than"),
    (b'{"x": 1} {"y": 2}', "not valid JSON"),
])
def test_what_is_not_json_or_not_an_object_is_refused(raw, problem):
    with pytest.raises(Invalid, match=problem):
        parse(raw)


def test_every_cut_of_a_record_is_refused_with_invalid():
    raw = dump(good())
    whole = len(raw.rstrip())
    for n in range(whole):
        with pytest.raises(Invalid):
            parse(raw[:n])


def test_dump_refuses_what_load_would_refuse():
    data = good()
    data["wait"] = float("nan")
    with pytest.raises(Invalid, match="field wait"):
        dump(data)
    with pytest.raises(Failure, match="cannot record web: field wait"):
        record.encode(FULL._replace(spec=SPEC._replace(wait=float("inf"))))


def test_read_refuses_what_is_not_a_regular_file(tmp_path):
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    link = tmp_path / "link.json"
    link.symlink_to("/dev/zero")
    with pytest.raises(Invalid, match="FIFO"):
        schema.read(str(fifo))
    with pytest.raises(Invalid, match="symbolic link"):
        schema.read(str(link))
    with pytest.raises(Invalid, match="directory"):
        schema.read(str(tmp_path))
    assert schema.read(str(tmp_path / "none.json")) is None


def test_load_refuses_a_record_of_another_name(tmp_path):
    path = tmp_path / "other.json"
    path.write_bytes(dump(good()))
    assert record.load(str(path)) == FULL
    with pytest.raises(record.CorruptRecord, match="field name names another daemon"):
        record.load(str(path), "other")


def test_written_records_are_what_the_json_package_reads():
    assert json.loads(dump(good())) == good()


def test_write_is_the_one_writer_mode_0600_checked(tmp_path):
    path = str(tmp_path / "web.json")
    schema.write(path, good())
    assert os.stat(path).st_mode & 0o777 == 0o600 and schema.load(path) == good()
    with pytest.raises(Invalid):
        schema.write(path, {**good(), "pid": 1})
    assert schema.load(path) == good()  # a record the next load would refuse is never written


def test_the_supervisor_and_daemonctl_write_records_through_schema_write():
    from pathlib import Path

    import daemonctl

    root = Path(daemonctl.__file__).parent
    writers = {p.relative_to(root).as_posix() for p in root.rglob("*.py") if "schema.write(" in p.read_text()}
    assert writers == {"store/record.py", "supervise/resident.py"}
    assert "atomic_write" not in (root / "supervise" / "resident.py").read_text()
