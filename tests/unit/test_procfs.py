from pathlib import Path

import pytest

from daemonctl.proc import procfs

STAT = "1234 (my (odd) prog) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100"


def test_parse_stat_reads_fields_after_the_last_paren():
    st = procfs.parse_stat(STAT)
    assert (st.pid, st.state, st.ppid, st.pgid, st.sid, st.tty_nr) == (1234, "S", 1, 1234, 1234, 0)
    assert st.starttime == 987654
    assert not st.zombie


def test_zombie_states():
    assert procfs.parse_stat(STAT.replace(") S ", ") Z ")).zombie
    assert procfs.parse_stat(STAT.replace(") S ", ") X ")).zombie


@pytest.mark.parametrize("text", ["", "garbage", "12 (x) S 1 2"])
def test_malformed_stat_is_rejected(text):
    with pytest.raises(ValueError):
        procfs.parse_stat(text)


def fake_proc(tmp_path: Path, entries: dict[int, str]) -> str:
    for pid, line in entries.items():
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(line)
    (tmp_path / "self").mkdir()
    return str(tmp_path)


def stat_line(pid: int, state: str = "S", pgid: int = 10, start: int = 500) -> str:
    return f"{pid} (p) {state} 1 {pgid} {pgid} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 {start} 0 0"


def test_group_members_skips_zombies_and_other_groups(tmp_path):
    proc = fake_proc(tmp_path, {10: stat_line(10), 11: stat_line(11, "Z"), 12: stat_line(12), 13: stat_line(13, pgid=99)})
    assert sorted(procfs.group_members(10, proc)) == [10, 12]


@pytest.mark.parametrize("pgid", [0, 1, -1])
def test_group_members_of_the_kernel_or_init_group_is_empty(tmp_path, pgid):
    """Kernel threads sit in group 0 and killpg(0) means "my own group": never a daemon's."""
    proc = fake_proc(tmp_path, {2: stat_line(2, pgid=0), 3: stat_line(3, pgid=0), 1: stat_line(1, pgid=1)})
    assert procfs.group_members(pgid, proc) == []


def test_identity_detects_pid_reuse_and_zombies(tmp_path):
    proc = fake_proc(tmp_path, {10: stat_line(10, start=500), 11: stat_line(11, "Z", start=600)})
    boot = procfs.boot_id()
    assert procfs.is_alive(procfs.Identity(10, 500, boot), proc)
    assert not procfs.is_alive(procfs.Identity(10, 501, boot), proc)  # same PID, other process
    assert not procfs.is_alive(procfs.Identity(10, 500, "another-boot"), proc)
    assert not procfs.is_alive(procfs.Identity(11, 600, boot), proc)  # zombie
    assert not procfs.is_alive(procfs.Identity(12, 600, boot), proc)  # gone
    assert procfs.Identity.of(11, proc) is None


def test_read_stat_of_this_process_is_real():
    import os

    st = procfs.read_stat(os.getpid())
    assert st is not None and st.pid == os.getpid() and st.starttime > 0


@pytest.mark.parametrize("raw,argv", [(b"nginx\0-g\0daemon off;\0", ["nginx", "-g", "daemon off;"]),
                                      (b"nginx: master process\0", ["nginx: master process"]),
                                      (b"rewritten argv, no NUL", ["rewritten argv, no NUL"]),
                                      (b"a\0\0", ["a", ""]), (b"", []),
                                      (b"x\0line\nbreak\0", ["x", "line\nbreak"])])
def test_cmdline_splits_on_nul(tmp_path, raw, argv):
    proc = fake_proc(tmp_path, {7: stat_line(7)})
    (tmp_path / "7" / "cmdline").write_bytes(raw)
    assert procfs.cmdline(7, proc) == argv
    assert procfs.cmdline(8, proc) is None  # gone


def test_start_time_is_boot_time_plus_ticks(tmp_path, monkeypatch):
    monkeypatch.setattr(procfs, "_boot_time", None)
    (tmp_path / "stat").write_text("cpu  1 2 3\nbtime 1700000000\nprocesses 5\n")
    ticks = procfs.os.sysconf("SC_CLK_TCK")
    ident = procfs.Identity(7, 250 * ticks, "boot")
    assert procfs.start_time(ident, str(tmp_path)) == 1700000250
