"""export renders a record; supervision fields come from issue-3 records when present."""

import pytest

from daemonctl.errors import Failure
from daemonctl.export import render
from daemonctl.export.base import Respawn
from daemonctl.export.supervisor import supervisor_section
from daemonctl.export.systemd import systemd_unit
from daemonctl.schedule import default_schedule, parse_schedule
from daemonctl.store.record import Record, StartSpec

SUPERVISED = dict(respawn="on-failure", restart_delay=2.0, restart_delay_max=60.0, min_uptime=10.0, max_restarts=3)


def spec(supervised=False, **kw):
    base = dict(command=["python3", "app.py", "a b"], executable="/usr/bin/python3",
                pidfile="/s/web.pid", stdout="/s/web.log", stderr="/s/web.log", chdir="/srv/web",
                umask=0o027, env={"MODE": "prod 1"})
    return StartSpec(**{**base, **(SUPERVISED if supervised else {}), **kw})


def lines(text):
    return [ln for ln in text.splitlines() if ln and not ln.startswith(("#", ";"))]


def test_systemd_plain_daemon():
    unit = lines(systemd_unit(Record("web", spec()), default_schedule(10)))
    for expected in ('ExecStart=@/usr/bin/python3 python3 app.py "a b"', "WorkingDirectory=/srv/web",
                     "UMask=0027", 'Environment="MODE=prod 1"', "StandardOutput=append:/s/web.log",
                     "StandardError=append:/s/web.log", "KillSignal=SIGTERM", "TimeoutStopSec=20",
                     "Restart=no", "Type=exec"):
        assert expected in unit


def test_systemd_stop_timeout_follows_the_schedule():
    unit = lines(systemd_unit(Record("web", spec()), parse_schedule("INT/7/KILL/3")))
    assert "KillSignal=SIGINT" in unit and "TimeoutStopSec=7" in unit
    assert "TimeoutStopSec=infinity" in systemd_unit(Record("web", spec()), parse_schedule("TERM/forever/5"))


def test_systemd_respawn_settings():
    unit = lines(systemd_unit(Record("web", spec(True, notify=True)), default_schedule(10)))
    assert "Restart=on-failure" in unit and "RestartSec=2" in unit and "Type=notify" in unit
    assert "StartLimitBurst=4" in unit and "RestartForceExitStatus=SIGHUP SIGINT SIGTERM SIGPIPE" in unit
    always = lines(systemd_unit(Record("web", spec(True, respawn="always", max_restarts=0)), default_schedule(1)))
    assert "Restart=always" in always and "StartLimitIntervalSec=0" in always


def test_systemd_env_file_and_discarded_output():
    unit = lines(systemd_unit(Record("web", spec(env={}, env_file="/etc/web.env", stdout="/dev/null", stderr="/e.log")),
                              default_schedule(10)))
    assert "EnvironmentFile=/etc/web.env" in unit and "StandardOutput=null" in unit
    assert "StandardError=append:/e.log" in unit


def test_supervisor_section(tmp_path):
    env_file = tmp_path / "env"
    env_file.write_text("FROM_FILE=1\nMODE=file\n")
    text = supervisor_section(Record("web", spec(env_file=str(env_file), stderr="/s/err.log")), default_schedule(5))
    body = lines(text)
    assert body[0] == "[program:web]"
    for expected in ("command=/usr/bin/python3 app.py 'a b'", "directory=/srv/web", "umask=027",
                     'environment=FROM_FILE="1",MODE="prod 1"', "stdout_logfile=/s/web.log",
                     "stderr_logfile=/s/err.log", "autorestart=false", "stopsignal=TERM", "stopwaitsecs=10",
                     "stopasgroup=true", "killasgroup=true"):
        assert expected in body


def test_supervisor_respawn():
    body = lines(supervisor_section(Record("web", spec(True, respawn="always")), default_schedule(5)))
    assert "autorestart=true" in body and "startretries=3" in body and "startsecs=10" in body
    assert "autorestart=unexpected" in lines(supervisor_section(Record("web", spec(True)), default_schedule(5)))


def test_what_supervisor_cannot_express_fails_cleanly():
    with pytest.raises(Failure, match="cannot export web to supervisor"):
        render("supervisor", Record("web", spec()), parse_schedule("WINCH/5/KILL/5"))
    with pytest.raises(Failure, match="line break"):
        render("supervisor", Record("web", spec(command=["x", "a\nb"])), default_schedule(5))


def test_user_colon_group_is_split_into_user_and_group():
    for kw in (dict(user="postgres:nogroup"), dict(user="postgres", group="nogroup")):
        unit = lines(systemd_unit(Record("db", spec(**kw)), default_schedule(5)))
        assert "User=postgres" in unit and "Group=nogroup" in unit and not any(":" in ln for ln in unit if ln.startswith("User"))
    assert "Group=nogroup" in lines(systemd_unit(Record("db", spec(group="nogroup")), default_schedule(5)))


def test_supervisor_user_and_the_group_it_cannot_set():
    text, notes = render("supervisor", Record("db", spec(user="root:nogroup")), parse_schedule("TERM/5"))
    assert "user=root" in lines(text) and not any(ln.startswith(("group", "user=root:")) for ln in lines(text))
    assert notes == ["group nogroup: supervisord runs the program with its user's primary group"]
    assert "; not exported: group nogroup" in text
    text, notes = render("supervisor", Record("db", spec(user="root:root")), parse_schedule("TERM/5"))
    assert notes == [] and "user=root" in lines(text)  # root's own group: nothing is lost


def test_supervisor_nice_runs_through_nice_1():
    text, notes = render("supervisor", Record("web", spec(nice=5)), parse_schedule("TERM/5"))
    assert notes == [] and any(ln.startswith("command=") and ln.endswith("nice -n 5 /usr/bin/python3 app.py 'a b'")
                               for ln in lines(text))
    text, notes = render("supervisor", Record("web", spec(nice=-5, user="nobody")), parse_schedule("TERM/5"))
    assert "nice" not in next(ln for ln in lines(text) if ln.startswith("command="))
    assert len(notes) == 1 and notes[0].startswith("--nice -5")


@pytest.mark.parametrize("option", [dict(ready_file="/run/x"), dict(ready_port="127.0.0.1:80"), dict(ready_log="up")])
def test_readiness_neither_format_can_check_is_a_comment_and_a_note(option):
    (key, value), = option.items()
    for kind, mark in (("systemd", "#"), ("supervisor", ";")):
        text, notes = render(kind, Record("web", spec(**option)), parse_schedule("TERM/5"))
        flag = "--" + key.replace("_", "-")
        assert [n for n in notes if n.startswith(f"{flag} {value}:")], notes
        assert f"{mark} not exported: {flag} {value}:" in text


def test_notify_is_type_notify_for_systemd_and_a_note_for_supervisord():
    text, notes = render("systemd", Record("svc", spec(notify=True, ready_timeout=12)), parse_schedule("TERM/5"))
    assert "Type=notify" in lines(text) and "TimeoutStartSec=12" in lines(text) and notes == []
    text, notes = render("supervisor", Record("svc", spec(notify=True)), parse_schedule("TERM/5"))
    assert [n for n in notes if n.startswith("--notify")]


def test_what_is_approximated_is_said():
    _, notes = render("systemd", Record("web", spec(wait=2)), default_schedule(5))
    assert any(n.startswith("--wait 2") for n in notes) and any(n.startswith("SIGHUP in the stop") for n in notes)
    _, notes = render("systemd", Record("web", spec(True)), parse_schedule("TERM/5"))
    assert [n for n in notes if n.startswith("--restart-delay-max 60")]
    _, notes = render("supervisor", Record("web", spec(True)), parse_schedule("TERM/5/HUP/5/KILL/5"))
    assert any(n.startswith("--restart-delay 2") for n in notes) and any(n.startswith("SIGHUP") for n in notes)
    _, notes = render("systemd", Record("web", spec()), parse_schedule("TERM/5"), default_pidfile="/s/web.pid")
    assert notes == []
    text, notes = render("systemd", Record("web", spec(pidfile="/run/web.pid")), parse_schedule("TERM/5"),
                         default_pidfile="/s/web.pid")
    assert notes == ["-p /run/web.pid: systemd writes no pidfile"] and "# not exported: -p /run/web.pid" in text


def test_the_callers_recorded_environment_is_not_exported():
    caller = {"HOME": "/root", "SECRET_TOKEN": "s3cret", "PATH": "/usr/bin"}
    record = Record("web", spec(caller_env=caller))
    for kind in ("systemd", "supervisor"):
        text, _ = render(kind, record, parse_schedule("TERM/5"))
        assert "s3cret" not in text and "SECRET_TOKEN" not in text and "HOME=" not in text
        assert "MODE=prod 1" in text or 'MODE="prod 1"' in text
        assert "not the environment daemonctl recorded from its caller" in text


@pytest.mark.parametrize("delay, delay_max, n", [(1, 60, 10), (0.5, 3, 7), (2, 2, 4), (0, 60, 5), (3, 1, 3), (1, 60, 0)])
def test_give_up_window_sums_the_doubling_delays_up_to_the_cap(delay, delay_max, n):
    window = Respawn("on-failure", delay, delay_max, 10.0, n).give_up_window()
    assert window == (n + 1) * 10.0 + sum(min(delay * 2**i, delay_max) for i in range(n))


def test_give_up_window_of_the_largest_max_restarts_is_finite():
    # Once an OverflowError traceback from `export` (delay * 2**i as a float) and 2**31 loop rounds.
    n = 2**31 - 1
    assert Respawn("always", 1.0, 60.0, 10.0, n).give_up_window() == (n + 1) * 10.0 + 63.0 + (n - 6) * 60.0


def test_forking_is_type_forking_with_the_programs_pidfile():
    forking = spec(forking=True, pid_from="/run/nginx.pid", ready_timeout=20)
    text, notes = render("systemd", Record("nginx", forking), parse_schedule("TERM/5"))
    assert {"Type=forking", "PIDFile=/run/nginx.pid", "TimeoutStartSec=20"} <= set(lines(text))
    assert "Type=exec" not in lines(text) and notes == []
    text, _ = render("systemd", Record("nginx", spec(forking=True)), default_schedule(10))
    assert "Type=forking" in lines(text) and not [ln for ln in lines(text) if ln.startswith("PIDFile=")]
    text, notes = render("supervisor", Record("nginx", forking), default_schedule(10))
    assert [n for n in notes if n.startswith("--forking")]


def test_log_rotation_maps_to_supervisord_and_is_a_note_for_systemd():
    rec = Record("web", spec(stderr="/s/err.log", log_max_size=1 << 20, log_keep=3))
    body = lines(supervisor_section(rec, default_schedule(5)))
    for expected in ("stdout_logfile_maxbytes=1048576", "stdout_logfile_backups=3",
                     "stderr_logfile_maxbytes=1048576", "stderr_logfile_backups=3"):
        assert expected in body
    assert "stdout_logfile_maxbytes=0" not in body
    unit = systemd_unit(rec, default_schedule(5))
    assert "StandardOutput=append:/s/web.log" in lines(unit)
    assert "# not exported: --log-max-size 1048576 --log-keep 3: systemd never rotates" in unit


def test_syslog_is_the_journal_for_systemd_and_stdout_syslog_for_supervisord():
    rec = Record("web", spec(syslog="local3", log_timestamps=True))
    unit = systemd_unit(rec, default_schedule(5))
    for expected in ("StandardOutput=journal", "StandardError=journal", "SyslogIdentifier=web", "SyslogFacility=local3"):
        assert expected in lines(unit)
    assert "append:" not in unit and "the journal stamps every line itself" in unit
    assert "not exported: the log files next to --syslog" in unit
    section = supervisor_section(rec, default_schedule(5))
    assert "stdout_syslog=true" in lines(section) and "stdout_logfile=/s/web.log" in lines(section)
    assert "; not exported: --syslog=local3" in section and "; not exported: --log-timestamps" in section


def test_log_options_left_at_their_defaults_export_as_before():
    for text in (systemd_unit(Record("web", spec()), default_schedule(5)),
                 supervisor_section(Record("web", spec()), default_schedule(5))):
        assert "log-" not in text and "syslog" not in text and "journal" not in text


def test_an_option_supervisord_cannot_express_is_named_as_it_is_given():
    rec = Record("web", spec(limit={"nofile": [100, 100], "core": [0, None]}, tasks_max=10))
    text = supervisor_section(rec, default_schedule(5))
    assert "; not exported: --limit nofile=100:100 --limit core=0:unlimited: supervisord has no equivalent" in text
    assert "; not exported: --tasks-max 10: supervisord has no equivalent" in text
