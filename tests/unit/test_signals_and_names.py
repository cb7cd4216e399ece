import signal

import pytest

from daemonctl.errors import UsageError
from daemonctl.exitcodes import ExitStatus
from daemonctl.signals import parse_signal, signal_name
from daemonctl.store.statedir import StateDir, default_state_dir, validate_name


@pytest.mark.parametrize("text,number", [("HUP", 1), ("SIGHUP", 1), ("hup", 1), ("9", 9), ("USR1", signal.SIGUSR1)])
def test_signal_spellings(text, number):
    assert parse_signal(text) == number
    assert signal_name(number).startswith("SIG")


@pytest.mark.parametrize("text", ["", "0", "NOPE", "SIG", "SIG_IGN", "65", "-1"])
def test_unknown_signals(text):
    with pytest.raises(ValueError):
        parse_signal(text)


@pytest.mark.parametrize("name", ["web", "a", "web-1.prod@host_2", "A" * 64, "9lives", "@x", "_x"])
def test_valid_names(name):
    assert validate_name(name) == name


@pytest.mark.parametrize("name", ["", ".hidden", "-x", "a/b", "a b", "A" * 65, "naïve", "x\n"])
def test_invalid_names(name):
    with pytest.raises(UsageError) as err:
        validate_name(name)
    assert err.value.exit_code == ExitStatus.USAGE


def test_state_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("DAEMONCTL_STATE_DIR", str(tmp_path / "env"))
    assert StateDir.resolve(str(tmp_path / "opt")).path == str(tmp_path / "opt")
    assert StateDir.resolve(None).path == str(tmp_path / "env")


def test_user_state_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("DAEMONCTL_STATE_DIR", raising=False)
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert default_state_dir({"XDG_STATE_HOME": "/x"}) == "/x/daemonctl"
    assert str(default_state_dir({"HOME": "/home/u"})) == "/home/u/.local/state/daemonctl"
    monkeypatch.setattr("os.geteuid", lambda: 0)
    assert str(default_state_dir({})) == "/var/lib/daemonctl"


def test_names_lists_only_records(tmp_path):
    for f in ["web.json", "web.pid", "web.log", "db.json", ".tmp.json.1.tmp", "x.lock"]:
        (tmp_path / f).write_text("")
    assert StateDir(tmp_path).names() == ["db", "web"]
