"""trust.py, privileges.py and atomic.py rules, without processes."""

import os
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest

from daemonctl.errors import PrivilegeError, UsageError
from daemonctl.proc import privileges
from daemonctl.store import atomic, trust


def fake_stat(mode: int, uid: int = 0) -> SimpleNamespace:
    return SimpleNamespace(st_mode=stat.S_IFREG | mode, st_uid=uid)


@pytest.fixture
def as_root(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)


def test_split_user():
    assert privileges.split_user("www") == ("www", None)
    assert privileges.split_user("www:adm") == ("www", "adm")
    for bad in ("", ":adm", "www:"):
        with pytest.raises(UsageError):
            privileges.split_user(bad)


def test_group_given_twice_is_usage():
    with pytest.raises(UsageError):
        privileges.credentials_of("0:0", "0")


def test_numeric_user_without_passwd_entry_needs_a_group():
    assert privileges.credentials_of("4000123:7", None) == privileges.Credentials(4000123, 7, None)
    with pytest.raises(UsageError):
        privileges.credentials_of("4000123", None)


def test_root_account_environment():
    creds = privileges.credentials_of("root", None)
    assert creds is not None and creds.uid == 0
    assert creds.environment()["USER"] == "root" and "HOME" in creds.environment()


def test_pinned_credentials_keep_numbers_only(monkeypatch):
    """Resolved once: nothing in them is looked up by name again."""
    monkeypatch.setattr(os, "getgrouplist", lambda user, gid: [gid, 20, gid, 30])
    creds = privileges.pinned(privileges.Credentials(1000, 1000, "someone"))
    assert creds is not None and creds.groups == (1000, 20, 30)
    assert privileges.pinned(creds) is creds
    assert privileges.pinned(privileges.Credentials(4000123, 7, None)).groups == (7,)
    assert privileges.pinned(None) is None


def test_non_root_cannot_become_another(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(os, "getegid", lambda: 1000)
    assert privileges.credentials_to_switch(privileges.Credentials(1000, 1000, "me")) is None
    with pytest.raises(PrivilegeError):
        privileges.credentials_to_switch(privileges.Credentials(0, 0, "root"))


def test_pidfile_rules(as_root, tmp_path):
    pf = tmp_path / "x.pid"
    trust.check_pidfile(pf, fake_stat(0o644), None)
    trust.check_pidfile(pf, fake_stat(0o644, uid=77), 77)
    with pytest.raises(trust.Untrusted, match="world-writable"):
        trust.check_pidfile(pf, fake_stat(0o666), None)
    with pytest.raises(trust.Untrusted, match="uid 77"):
        trust.check_pidfile(pf, fake_stat(0o644, uid=77), 0)
    tmp_path.chmod(0o777)
    with pytest.raises(trust.Untrusted, match="sticky"):
        trust.check_pidfile(pf, fake_stat(0o644), None)
    tmp_path.chmod(0o1777)
    trust.check_pidfile(pf, fake_stat(0o644), None)


def test_state_dir_rules(tmp_path):
    trust.check_state_dir(tmp_path)
    trust.check_state_dir(tmp_path / "missing")
    tmp_path.chmod(0o770)
    with pytest.raises(trust.Untrusted, match="its group"):
        trust.check_state_dir(tmp_path)
    tmp_path.chmod(0o700)


def test_atomic_file_never_reuses_a_planted_file(tmp_path):
    target = tmp_path / "a.pid"
    victim = tmp_path / "victim"
    victim.write_text("keep")
    target.symlink_to(victim)
    atomic.atomic_write(target, b"123\n")
    assert victim.read_text() == "keep" and not target.is_symlink()
    assert target.read_text() == "123\n"


def test_sweep_removes_only_dead_writers_temps(tmp_path):
    target = tmp_path / "a.json"
    dead = tmp_path / f".a.json.{2**22 + 9}-{'0' * 16}.tmp"
    alive = tmp_path / f".a.json.{os.getpid()}-{'1' * 16}.tmp"
    other = tmp_path / f".a.json.x.{2**22 + 9}-{'0' * 16}.tmp"
    for p in (dead, alive, other):
        p.write_text("")
    atomic.sweep_temps(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, other.name])


def test_remove_in_read_only_place_is_a_failure(monkeypatch):
    def refuse(path):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(os, "unlink", refuse)
    with pytest.raises(Exception, match="Read-only file system") as err:
        atomic.remove(Path("/x"))
    assert err.value.exit_code == 1
