"""safeopen: regular files only, no symlink followed, no blocking, bounded reads, the user's rights."""

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from daemonctl.proc.privileges import Credentials
from daemonctl.store import safeopen
from daemonctl.store.safeopen import Refused, Rights

NOBODY = 65534
NOBODY_RIGHTS = Rights(NOBODY, NOBODY, (NOBODY,))


def refusal(call, *args, **kw) -> Refused:
    with pytest.raises(Refused) as info:
        call(*args, **kw)
    return info.value


@pytest.fixture
def root():
    if os.geteuid() != 0:
        pytest.skip("switching to another user's rights needs root")


@pytest.fixture
def nobody_dir(root):
    """DIR/home, owned by nobody, in a root-owned 0755 directory nobody may enter."""
    top = Path(tempfile.mkdtemp(prefix="dctl-safeopen-"))
    top.chmod(0o755)
    home = top / "home"
    home.mkdir()
    os.chown(home, NOBODY, NOBODY)
    yield top, home
    shutil.rmtree(top, ignore_errors=True)


def test_regular_file_is_appended_and_created(tmp_path):
    path = str(tmp_path / "app.log")
    fd, created = safeopen.open_append(path, "stdout log")
    assert created
    os.write(fd, b"one\n")
    os.close(fd)
    fd, created = safeopen.open_append(path, "stdout log")
    assert not created and os.get_blocking(fd)
    assert os.get_inheritable(fd) is False
    os.write(fd, b"two\n")
    os.close(fd)
    assert Path(path).read_bytes() == b"one\ntwo\n"


def test_symlink_is_refused_as_trust(tmp_path):
    target = tmp_path / "precious"
    target.write_text("secret\n")
    link = tmp_path / "link"
    link.symlink_to(target)
    for call in (lambda: safeopen.open_append(str(link), "log"), lambda: safeopen.read_file(str(link), "env file", 100)):
        err = refusal(call)
        assert err.trust and err.exit_code == 4 and "symbolic link" in str(err)
        assert "secret" not in str(err)
    assert target.read_text() == "secret\n"


def test_dangling_symlink_creates_nothing(tmp_path):
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "missing")
    assert refusal(safeopen.open_append, str(link), "log").trust
    assert not (tmp_path / "missing").exists()


def test_fifo_never_blocks(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for call in (lambda: safeopen.open_append(str(fifo), "log"), lambda: safeopen.read_file(str(fifo), "env file", 100)):
        err = refusal(call)
        assert err.trust and "FIFO" in str(err)


def test_fifo_with_a_reader_is_refused_too(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        err = refusal(safeopen.open_append, str(fifo), "log")
        assert err.trust and "FIFO" in str(err)
    finally:
        os.close(reader)


def test_directory_is_a_plain_failure(tmp_path):
    err = refusal(safeopen.read_file, str(tmp_path), "env file", 100)
    assert not err.trust and err.exit_code == 1 and "directory" in str(err)
    err = refusal(safeopen.open_append, str(tmp_path), "log")
    assert not err.trust and "directory" in str(err)


def test_device_is_refused_but_dev_null_may_be_allowed():
    err = refusal(safeopen.read_file, "/dev/zero", "env file", 100)
    assert err.trust and "character device" in str(err)
    assert refusal(safeopen.open_append, "/dev/zero", "log").trust
    assert refusal(safeopen.open_append, "/dev/null", "log").trust
    fd, created = safeopen.open_append("/dev/null", "log", allow_null=True)
    os.close(fd)
    assert not created


def test_size_bound(tmp_path):
    path = tmp_path / "env"
    path.write_bytes(b"A=1\n" * 100)
    assert safeopen.read_file(str(path), "env file", 400) == b"A=1\n" * 100
    err = refusal(safeopen.read_file, str(path), "env file", 399)
    assert not err.trust and "larger than 399 bytes" in str(err)
    assert "A=1" not in str(err)


def test_missing_file_for_reading_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        safeopen.open_read(str(tmp_path / "missing"), "env file")


def test_refusal_maps_to_the_cli_exit_codes():
    assert Refused("x", trust=True).to_error().exit_code == 4
    assert Refused("x").to_error().exit_code == 1


def test_rights_of_credentials():
    assert Rights.of(None) is None
    assert Rights.of(Credentials(0, 5, "root")) is None
    rights = Rights.of(Credentials(NOBODY, NOBODY, None))
    assert rights == NOBODY_RIGHTS


def test_where_the_users_rights_apply(nobody_dir):
    top, home = nobody_dir
    deep = home / "a" / "b"
    deep.mkdir(parents=True)
    os.chown(home / "a", 0, 0)
    os.chown(deep, 0, 0)
    assert safeopen.rights_for(str(home / "app.log"), NOBODY_RIGHTS) == NOBODY_RIGHTS
    # nobody can rename a/ away and put a symlink in its place: deeper files count as nobody's too
    assert safeopen.rights_for(str(deep / "app.log"), NOBODY_RIGHTS) == NOBODY_RIGHTS
    assert safeopen.rights_for(str(top / "app.log"), NOBODY_RIGHTS) is None
    assert safeopen.rights_for(str(home / "app.log"), None) is None
    # in a sticky directory, a name nobody could create first is nobody's; root's own entries are not
    assert safeopen.rights_for(f"/tmp/dctl-missing-{os.getpid()}", NOBODY_RIGHTS) == NOBODY_RIGHTS


def test_created_as_nobody_in_nobodys_directory(nobody_dir):
    _, home = nobody_dir
    path = home / "app.log"
    fd, created = safeopen.open_append(str(path), "stdout log", NOBODY_RIGHTS)
    os.close(fd)
    assert created and path.stat().st_uid == NOBODY
    assert (os.geteuid(), os.getegid()) == (0, 0)


def test_root_file_in_nobodys_directory_is_opened_with_nobodys_rights(nobody_dir):
    """A hard link (or a file root left there) nobody may not write stays unwritten."""
    _, home = nobody_dir
    victim = home / "app.log"
    victim.write_text("root's\n")
    victim.chmod(0o600)
    err = refusal(safeopen.open_append, str(victim), "stdout log", NOBODY_RIGHTS)
    assert not err.trust and err.exit_code == 4 and "Permission denied" in str(err)
    err = refusal(safeopen.read_file, str(victim), "env file", 100, NOBODY_RIGHTS)
    assert "root's" not in str(err)
    assert victim.read_text() == "root's\n"
    assert (os.geteuid(), os.getegid(), os.getgroups()) == (0, 0, os.getgroups())


def test_missing_file_in_root_place_is_created_by_root_and_given_away(nobody_dir):
    top, _ = nobody_dir
    path = top / "app.log"
    fd, created = safeopen.open_append(str(path), "stdout log", NOBODY_RIGHTS, owner=(NOBODY, NOBODY))
    os.close(fd)
    assert created and path.stat().st_uid == NOBODY


def test_rights_restored_after_an_exception(root):
    groups = os.getgroups()
    with pytest.raises(RuntimeError):
        with safeopen.acting_as(NOBODY_RIGHTS):
            assert (os.geteuid(), os.getegid()) == (NOBODY, NOBODY)
            raise RuntimeError
    assert (os.geteuid(), os.getegid(), os.getgroups()) == (0, 0, groups)


def test_no_signal_handler_runs_with_borrowed_rights(root):
    """Signals are held while the rights are borrowed, and delivered after."""
    probe = r"""
import os, signal
from daemonctl.store.safeopen import Rights, acting_as
seen = []
signal.signal(signal.SIGUSR1, lambda *a: seen.append(os.geteuid()))
with acting_as(Rights(65534, 65534, (65534,))):
    os.kill(os.getpid(), signal.SIGUSR1)
    assert seen == []
print(seen)
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[0]"


def test_imports_stay_lean():
    out = subprocess.run(
        [sys.executable, "-c", "import sys, daemonctl.store.safeopen; print(' '.join(sys.modules))"],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    assert not {"click", "socket", "json"} & set(out)


def test_mode_of_created_file(tmp_path):
    old = os.umask(0o022)
    try:
        fd, _ = safeopen.open_append(str(tmp_path / "x"), "log", create_mode=0o600)
    finally:
        os.umask(old)
    os.close(fd)
    assert stat.S_IMODE((tmp_path / "x").stat().st_mode) == 0o600


def test_no_borrowed_rights_in_a_threaded_process(root):
    import threading

    done = threading.Event()
    worker = threading.Thread(target=done.wait)
    worker.start()
    try:
        with pytest.raises(Refused, match="multi-threaded"):
            with safeopen.acting_as(NOBODY_RIGHTS):
                pass
        assert os.geteuid() == 0
    finally:
        done.set()
        worker.join()
