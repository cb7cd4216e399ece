"""export of a set (export/sets.py): a systemd template unit and a supervisord section with numprocs,
%i becoming each target's specifier and a literal % staying literal."""

import pytest

from daemonctl.export import load_set, render
from daemonctl.export.sets import PLACEHOLDER, default_pidfile
from daemonctl.instances import instance_spec, template_of
from daemonctl.schedule import parse_schedule
from daemonctl.store.record import Record, StartSpec, save
from daemonctl.store.statedir import StateDir

SCHEDULE = parse_schedule("TERM/10/KILL/5")


@pytest.fixture
def state(tmp_path):
    state = StateDir(str(tmp_path))
    template = template_of(("/bin/srv", "--port", "80%i", "--pct", "5%%"),
                           {"env": {"SLOT": "s%i"}, "chdir": "/srv/%i"}, "web", state.path, "/")
    base = StartSpec(["/bin/srv"], "/bin/srv", "/x", "/x", "/x", respawn="always")
    for i in (1, 2, 3):
        save(state.record(f"web@{i}"), Record(f"web@{i}", instance_spec(base, template, i, 3)))
    return state


def export(state, kind):
    loaded = load_set(state, "web")
    assert loaded is not None
    record, count = loaded
    return render(kind, record, SCHEDULE, default_pidfile(state, "web"), count)


def test_systemd_template_unit(state):
    text, notes = export(state, "systemd")
    assert "/etc/systemd/system/web@.service" in text and "web@{1..3}" in text
    assert "ExecStart=/bin/srv --port 80%i --pct 5%%" in text
    assert "WorkingDirectory=/srv/%i" in text
    assert 'Environment="SLOT=s%i"' in text and 'Environment="DAEMONCTL_INSTANCE=%i"' in text
    assert 'Environment="DAEMONCTL_INSTANCES=3"' in text
    assert f"StandardOutput=append:{state.path}/web@%i.log" in text
    assert PLACEHOLDER not in text and not any("pidfile" in n or "instances" in n for n in notes)


def test_supervisor_numprocs_section(state):
    text, notes = export(state, "supervisor")
    lines = text.splitlines()
    assert "[program:web]" in lines and "numprocs=3" in lines and "numprocs_start=1" in lines
    assert "process_name=%(program_name)s@%(process_num)d" in lines
    assert "command=/bin/srv --port 80%(process_num)d --pct 5%%" in lines
    assert "directory=/srv/%(process_num)d" in lines
    assert f"stdout_logfile={state.path}/web@%(process_num)d.log" in lines
    assert PLACEHOLDER not in text


def test_not_a_set(state):
    assert load_set(state, "nothing") is None
