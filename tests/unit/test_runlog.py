"""runlog: only what a run appended to its logs since the mark."""
import os

from daemonctl.store.runlog import TAIL_BYTES, RunLogs


def test_only_lines_after_the_mark(tmp_path):
    log = tmp_path / "a.log"
    log.write_text("old\n")
    logs = RunLogs([str(log), str(log)])
    try:
        with open(log, "a") as f:
            f.write("new 1\nnew 2\n")
        assert logs.last_lines(10) == ["new 1", "new 2"]
        assert logs.last_lines(1) == ["new 2"]
    finally:
        logs.close()


def test_log_created_by_the_run(tmp_path):
    log = tmp_path / "a.log"
    logs = RunLogs([str(log)])
    try:
        log.write_text("first\n")
        assert logs.last_lines(10) == ["first"]
    finally:
        logs.close()


def test_huge_output_is_read_from_its_end_only(tmp_path):
    log = tmp_path / "a.log"
    log.write_text("old\n")
    logs = RunLogs([str(log)])
    try:
        with open(log, "a") as f:
            f.write("x" * 10 + "\n")
            f.write(("y" * 99 + "\n") * (2 * TAIL_BYTES // 100))
            f.write("last\n")
        lines = logs.last_lines(3)
        assert lines == ["y" * 99, "y" * 99, "last"]
        assert all(len(line) == 99 for line in logs.last_lines(10_000)[:-1])  # no cut line first
    finally:
        logs.close()


def test_a_fifo_is_not_opened(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    logs = RunLogs([str(fifo)])  # not a regular file: never read, never blocks
    try:
        assert logs.last_lines(10) == []
    finally:
        logs.close()
