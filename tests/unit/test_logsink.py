"""The log writer's sink and pump (supervise/logsink.py, pump.py): two streams, whole lines each, into their logs."""

import os

import pytest

from daemonctl.store.rotation import RotatingLog, SafeOps
from daemonctl.supervise.logsink import LogSettings, LogSink, build_sink, wanted
from daemonctl.supervise.pump import Pump


class Collect:
    """A log that remembers each write."""

    def __init__(self):
        self.writes = []

    def write(self, data):
        self.writes.append(data)

    def close(self):
        pass

    @property
    def text(self):
        return b"".join(self.writes)


def test_each_stream_keeps_its_lines_whole_when_both_share_a_log():
    shared = Collect()
    sink = LogSink((shared, shared))
    sink.feed(0, b"out one\nout t")
    sink.feed(1, b"err one\ner")
    sink.feed(0, b"wo\n")
    sink.feed(1, b"r two\n")
    assert shared.text == b"out one\nerr one\nout two\nerr two\n"


def test_stamps_go_on_every_line_of_a_read_and_on_daemonctls_own_lines():
    out, err = Collect(), Collect()
    sink = LogSink((out, err), stamper=lambda: b"T ")
    sink.feed(0, b"a\nb\n")
    sink.tell("daemonctl: supervisor: hello")
    assert out.text == b"T a\nT b\n" and err.text == b"T daemonctl: supervisor: hello\n"


def test_close_writes_unfinished_lines():
    out, err = Collect(), Collect()
    sink = LogSink((out, err))
    sink.feed(0, b"no newline")
    sink.close()
    assert out.text == b"no newline\n" and err.text == b""


def test_wanted_only_with_a_log_option():
    assert not wanted({"log_keep": 5})
    assert wanted({"log_max_size": 10}) and wanted({"log_timestamps": True}) and wanted({"syslog": "daemon"})


def settings(tmp_path, **extra):
    return LogSettings({"name": "web", "stdout": str(tmp_path / "out.log"), "stderr": str(tmp_path / "out.log"), **extra})


def test_build_sink_shares_one_rotating_log_when_stdout_and_stderr_are_one_file(tmp_path):
    sink = build_sink(settings(tmp_path, log_max_size=100), None)
    assert isinstance(sink.logs[0], RotatingLog) and sink.logs[0] is sink.logs[1]
    assert sink.stamper is None and sink.syslog is None
    sink.close()


def test_build_sink_writes_nothing_for_dev_null(tmp_path):
    sink = build_sink(LogSettings({"name": "w", "stdout": os.devnull, "stderr": str(tmp_path / "e"), "syslog": "daemon"}), None)
    assert sink.logs[0] is None and sink.logs[1] is not None and sink.syslog is not None
    sink.close()


def test_pump_reads_both_pipes_until_they_end(tmp_path):
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    log = RotatingLog(str(tmp_path / "log"), None, 5, SafeOps())
    pump = Pump(LogSink((log, log)), (out_r, err_r))
    os.write(out_w, b"1\n2")
    os.write(err_w, b"e\n")
    os.close(out_w)
    os.close(err_w)
    assert pump.wait([], None) == set()
    assert not pump.open
    assert sorted((tmp_path / "log").read_bytes().splitlines()) == [b"1", b"2", b"e"]


def test_pump_wait_returns_when_another_descriptor_is_ready_and_reads_meanwhile(tmp_path):
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    other_r, other_w = os.pipe()
    out = Collect()
    pump = Pump(LogSink((out, out)), (out_r, err_r))
    os.write(out_w, b"before\n")
    assert pump.wait([other_r], 0.0) == set()  # a timeout: nothing else ready
    os.write(other_w, b"x")
    assert pump.wait([other_r], None) == {other_r}
    assert out.text == b"before\n"
    os.write(out_w, b"tail")
    pump.end_of_run()  # the program ended: its unfinished line is written
    assert out.text == b"before\ntail\n" and pump.open
    for fd in (out_w, err_w, other_r, other_w):
        os.close(fd)
    pump.close()


def test_the_writer_lock_is_waited_for_but_never_forever(tmp_path):
    import fcntl

    from daemonctl.store.writerlock import hold_lock

    path = str(tmp_path / "w.writer.lock")
    held = os.open(path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(held, fcntl.LOCK_EX)  # a previous writer still draining
    naps = []
    fd = hold_lock(path, wait=0.0, sleep=naps.append)
    os.close(fd)
    os.close(held)  # the previous writer is done: the next one gets the lock at once
    fd = hold_lock(path, wait=0.0, sleep=naps.append)
    other = os.open(path, os.O_RDWR)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(other)
        os.close(fd)
