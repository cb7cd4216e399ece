import os

from daemonctl.store import inotify
from daemonctl.store.inotify import Waiter


def _append(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    os.write(fd, data)
    os.close(fd)


def test_waiter_wakes_for_every_change_a_rotation_makes(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("a\n")
    elsewhere = tmp_path / "old"
    elsewhere.mkdir()
    w = Waiter(str(tmp_path))
    w.watch_file(str(log))
    assert w.active and not w.pending()
    changes = [
        lambda: _append(log, b"b\n"),                             # append
        lambda: os.truncate(log, 0),                              # copytruncate
        lambda: os.rename(log, tmp_path / "x.log.1"),             # rename
        lambda: log.write_text(""),                               # create
    ]
    for change in changes:
        change()
        assert w.pending()
        w.wait()  # returns at once, having read the events
        assert not w.pending()
    os.rename(tmp_path / "x.log.1", elsewhere / "x.log.1")
    w.wait()
    w.watch_file(str(elsewhere / "x.log.1"))  # the file's own watch follows it out of the directory
    _append(elsewhere / "x.log.1", b"late\n")
    assert w.pending()
    w.close()


def test_waiter_polls_where_there_is_no_inotify(tmp_path, monkeypatch):
    monkeypatch.setattr(inotify, "_libc", lambda: None)
    slept = []
    w = Waiter(str(tmp_path), sleep=slept.append)
    w.watch_file(str(tmp_path / "x.log"))
    w.wait()
    assert not w.active and slept == [inotify.POLL_INTERVAL]
    w.close()


def test_waiter_on_a_missing_directory_polls(tmp_path):
    slept = []
    w = Waiter(str(tmp_path / "missing"), sleep=slept.append)
    w.wait()
    assert not w.active and slept == [inotify.POLL_INTERVAL]
