import os
import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemonctl.errors import Failure, PrivilegeError
from daemonctl.store.lastlines import start_of_last_lines
from daemonctl.store.logread import Follower, Source, follow, open_log, show, strict_opener


def tail(path, lines):
    out = []
    show(Source(str(path), None), lines, False, out.append)
    return b"".join(out).decode().splitlines()


def test_tail_last_lines(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("".join(f"line {i}\n" for i in range(50000)))
    assert tail(log, 3) == ["line 49997", "line 49998", "line 49999"]
    assert tail(log, 0) == []
    assert tail(tmp_path / "missing.log", 3) == []


def test_tail_without_final_newline_and_short_file(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("a\nb")
    assert tail(log, 10) == ["a", "b"]


def _reference(data: bytes, lines: int, max_line: int) -> int:
    """The start of the last lines, found the slow and obvious way."""
    if lines <= 0 or not data:
        return len(data)
    body = data[:-1] if data.endswith(b"\n") else data
    spans, start = [], 0
    for part in body.split(b"\n"):
        spans.append((start, start + len(part)))
        start += len(part) + 1
    for count, (begin, end) in enumerate(reversed(spans), 1):
        if end - begin > max_line:
            return end - max_line
        if count == lines:
            return begin
    return 0


@settings(max_examples=800, deadline=None)
@given(
    data=st.lists(st.sampled_from([b"a", b"bc", b"\n", b"\n\n"]), max_size=60).map(b"".join),
    lines=st.integers(0, 8),
    block=st.integers(1, 9),
    max_line=st.integers(1, 12),
)
def test_backward_reader_agrees_with_the_obvious_way(data, lines, block, max_line):
    reads = []

    def read_at(offset, size):
        reads.append((offset, size))
        return data[offset:offset + size]

    got = start_of_last_lines(read_at, len(data), lines, max_line=max_line, block=block)
    assert got == _reference(data, lines, max_line)
    # Each byte once at most, but the up-to-3 looked at to start a cut line on a character.
    assert sum(size for _, size in reads) <= len(data) + 3, "read something twice"


@pytest.mark.parametrize("block", [1, 2, 3, 4, 5, 8, 64])
def test_backward_reader_at_block_boundaries(block):
    data = b"ab\ncd\nef\n"  # newlines at 2, 5, 8: on, before and after block edges for these sizes

    def read_at(offset: int, size: int) -> bytes:
        return data[offset:offset + size]

    for lines, start in [(1, 6), (2, 3), (3, 0), (4, 0)]:
        assert start_of_last_lines(read_at, len(data), lines, block=block) == start
    assert start_of_last_lines(read_at, 8, 1, block=block) == 6  # no final newline
    assert start_of_last_lines(lambda o, s: b"\n\n\n"[o:o + s], 3, 2, block=block) == 1  # empty lines


def test_backward_reader_reads_only_the_last_long_line():
    size = 1 << 30  # a 1 GiB "file" without a newline, never held in memory
    reads = []

    def read_at(offset, n):
        reads.append(n)
        return b"x" * min(n, size - offset)

    assert start_of_last_lines(read_at, size, 10) == size - 65536
    assert sum(reads) <= 2 * 65536 + 3


def test_a_cut_line_starts_on_a_character():
    data = "é".encode() * 10  # two bytes each
    start = start_of_last_lines(lambda o, s: data[o:o + s], len(data), 1, max_line=5, block=4)
    assert start == 16 and data[start:].decode() == "éé"


def test_show_prints_the_cut_last_line_of_a_file_without_newlines(tmp_path):
    log = tmp_path / "x.log"
    log.write_bytes(b"y" * 10 + b"x" * (200 << 10))
    out = []
    show(Source(str(log), None), 10, False, out.append)
    assert b"".join(out) == b"x" * 65536 + b"\n"


def test_open_log_refuses_what_is_not_a_regular_file(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()
    (tmp_path / "secret").write_text("secret\n")
    os.symlink(tmp_path / "secret", tmp_path / "link")
    os.symlink("loop", tmp_path / "loop")
    for name, words in [("fifo", "a FIFO"), ("link", "symbolic link"), ("loop", "symbolic link")]:
        with pytest.raises(PrivilegeError, match=words):
            open_log(str(tmp_path / name))
    with pytest.raises(Failure, match="is a directory"):
        open_log(str(tmp_path / "dir"))
    assert open_log(str(tmp_path / "missing")) is None
    with pytest.raises(Failure, match="Not a directory"):
        open_log(str(tmp_path / "secret" / "x"))
    with pytest.raises(PrivilegeError, match="symbolic link"):
        tail(tmp_path / "link", 3)


def _append(path, text):
    with open(path, "a") as w:
        w.write(text)


def test_follower_sees_appends_rename_and_truncation(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("old\n")
    f = Follower(str(log))
    assert f.read() == b""
    _append(log, "one\n")
    assert f.read() == b"one\n"
    _append(log, "before-rename\n")
    log.rename(tmp_path / "x.log.1")
    log.write_text("new\n")
    assert f.read() == b"before-rename\nnew\n"
    log.write_text("")  # truncated in place, seen by a poll before it grows again
    assert f.read() == b""
    _append(log, "after\n")
    assert f.read() == b"after\n"
    f.close()


def test_follower_reads_what_it_missed_from_the_copy_of_a_copytruncate(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("".join(f"{i}\n" for i in range(1000)))
    f = Follower(str(log))
    _append(log, "seen\n")
    assert f.read() == b"seen\n"
    _append(log, "missed-1\nmissed-2\n")
    shutil.copyfile(log, tmp_path / "x.log.1")  # logrotate's copytruncate: copy, then truncate
    (tmp_path / "x.log.2").write_text(log.read_text())  # an older copy that does not end there
    os.utime(tmp_path / "x.log.2", (0, 0))
    os.truncate(log, 0)
    _append(log, "fresh and longer than what was read before the truncation\n" * 200)
    assert f.read() == b"missed-1\nmissed-2\n" + b"fresh and longer than what was read before the truncation\n" * 200
    f.close()


def test_follower_truncated_without_a_copy_starts_again_at_the_beginning(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("a\nb\n")
    f = Follower(str(log))
    os.truncate(log, 0)
    _append(log, "c\nd\ne\n")  # grew past the old position before the follower looked
    assert f.read() == b"c\nd\ne\n"
    f.close()


def test_follower_keeps_reading_the_renamed_file_until_the_new_one_has_content(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("")
    f = Follower(str(log))
    writer = open(log, "a")
    writer.write("one\n")
    writer.flush()
    log.rename(tmp_path / "x.log.1")
    log.write_text("")  # logrotate's `create`: the writer has not reopened yet
    assert f.read() == b"one\n"
    writer.write("two\n")
    writer.flush()
    assert f.read() == b"two\n"
    writer.close()
    _append(log, "three\n")  # the writer reopened
    assert f.read() == b"three\n"
    _append(tmp_path / "x.log.1", "late\n")
    assert f.read() == b""
    f.close()


def test_follower_with_a_strict_opener_refuses_a_planted_symlink(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("a\n")
    (tmp_path / "secret").write_text("secret\n")
    f = Follower(str(log), opener=strict_opener(None))
    log.unlink()
    os.symlink(tmp_path / "secret", log)
    with pytest.raises(PrivilegeError, match="symbolic link"):
        f.read()
    f.close()


def test_follow_reads_and_waits_with_injected_wait(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("")
    got, waits = [], []

    def wait():
        waits.append(1)
        _append(log, f"tick {len(waits)}\n")

    follow(Follower(str(log)), got.append, wait, rounds=5)
    assert b"".join(got) == b"tick 1\ntick 2\n" and len(waits) == 3


def test_show_follows_from_where_the_last_lines_ended(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("a\nb\n")
    out = []

    def write(data):
        out.append(data)
        if len(out) == 1:
            _append(log, "written between\n")  # after the tail was read, before following starts
        elif len(out) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        show(Source(str(log), None), 1, True, write)
    assert out == [b"b\n", b"written between\n"]


def test_follower_shows_every_copy_of_two_copytruncates_it_slept_through(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("start\n")
    f = Follower(str(log))

    def rotate(text):
        _append(log, text)
        for n in (2, 1):
            if (tmp_path / f"x.log.{n}").exists():
                os.rename(tmp_path / f"x.log.{n}", tmp_path / f"x.log.{n + 1}")
        shutil.copyfile(log, tmp_path / "x.log.1")
        os.truncate(log, 0)

    rotate("a\n")
    os.utime(tmp_path / "x.log.1", (1, 1))  # mtimes apart, whatever the clock's resolution
    rotate("b\n")
    (tmp_path / "x.log.lock").write_text("not a rotation\n")
    _append(log, "c\n")
    assert f.read() == b"a\nb\nc\n"
    f.close()


def shown(path, lines):
    out = []
    show(Source(str(path), None), lines, False, out.append)
    return b"".join(out)


def test_n_reaches_back_into_rotated_files_oldest_first(tmp_path):
    log = tmp_path / "d.log"
    (tmp_path / "d.log.3").write_bytes(b"1\n2\n")
    (tmp_path / "d.log.2").write_bytes(b"3\n4\n5\n")
    (tmp_path / "d.log.1").write_bytes(b"6\n")
    log.write_bytes(b"7\n8\n")
    assert shown(log, 2) == b"7\n8\n"
    assert shown(log, 3) == b"6\n7\n8\n"
    assert shown(log, 5) == b"4\n5\n6\n7\n8\n"
    assert shown(log, 100) == b"".join(b"%d\n" % n for n in range(1, 9))
    assert shown(log, 0) == b""


def test_n_stops_at_the_first_missing_rotation_and_ends_a_cut_copy_with_a_newline(tmp_path):
    log = tmp_path / "d.log"
    (tmp_path / "d.log.3").write_bytes(b"never shown\n")
    (tmp_path / "d.log.1").write_bytes(b"a\nhalf")
    log.write_bytes(b"")
    assert shown(log, 10) == b"a\nhalf\n"


def test_n_across_rotations_refuses_a_planted_symlink(tmp_path):
    log = tmp_path / "d.log"
    log.write_bytes(b"x\n")
    (tmp_path / "secret").write_bytes(b"secret\n")
    (tmp_path / "d.log.1").symlink_to(tmp_path / "secret")
    with pytest.raises(PrivilegeError):
        shown(log, 10)


def test_follower_reads_every_file_rotated_while_it_was_not_looking(tmp_path):
    log = tmp_path / "d.log"
    log.write_bytes(b"a1\n")
    follower = Follower(str(log), start_at_end=False)
    assert follower.read() == b"a1\n"
    with open(log, "ab") as f:
        f.write(b"a2\n")
    for content in (b"b1\nb2\n", b"c1\n"):  # two rotations before the next look
        for n in (2, 1):
            if (tmp_path / f"d.log.{n}").exists():
                os.rename(tmp_path / f"d.log.{n}", tmp_path / f"d.log.{n + 1}")
        os.rename(log, tmp_path / "d.log.1")
        log.write_bytes(content)
    assert follower.read() == b"a2\nb1\nb2\nc1\n"
    follower.close()


def test_follower_whose_old_file_is_gone_from_the_numbered_ones_takes_the_new_log(tmp_path):
    log = tmp_path / "d.log"
    log.write_bytes(b"a\n")
    follower = Follower(str(log), start_at_end=False)
    assert follower.read() == b"a\n"
    os.rename(log, tmp_path / "elsewhere")
    (tmp_path / "d.log.1").write_bytes(b"unrelated\n")
    log.write_bytes(b"b\n")
    assert follower.read() == b"b\n"
    follower.close()


# logrotate's `compress` (and `delaycompress`, which leaves LOG.1 plain) ---------------------


def gz(path, data: bytes) -> None:
    import gzip

    path.write_bytes(gzip.compress(data))


def test_n_reaches_back_into_compressed_rotated_files_in_order(tmp_path):
    log = tmp_path / "d.log"
    gz(tmp_path / "d.log.4.gz", b"1\n2\n")
    gz(tmp_path / "d.log.3.gz", b"3\n4\n5\n")
    gz(tmp_path / "d.log.2.gz", b"6\n")
    (tmp_path / "d.log.1").write_bytes(b"7\n")
    log.write_bytes(b"8\n9\n")
    assert shown(log, 3) == b"7\n8\n9\n"
    assert shown(log, 4) == b"6\n7\n8\n9\n"
    assert shown(log, 6) == b"4\n5\n6\n7\n8\n9\n"
    assert shown(log, 100) == b"".join(b"%d\n" % n for n in range(1, 10))


def test_n_reads_compressed_files_without_delaycompress_and_ends_a_cut_one_with_a_newline(tmp_path):
    log = tmp_path / "d.log"
    gz(tmp_path / "d.log.2.gz", b"a\nb\n")
    gz(tmp_path / "d.log.1.gz", b"c\nhalf")
    log.write_bytes(b"d\n")
    assert shown(log, 3) == b"c\nhalf\nd\n"
    assert shown(log, 10) == b"a\nb\nc\nhalf\nd\n"


def test_a_plain_rotated_file_wins_over_its_compressed_copy_being_written(tmp_path):
    # While logrotate compresses LOG.2, LOG.2.gz beside it is not whole yet.
    log = tmp_path / "d.log"
    (tmp_path / "d.log.2").write_bytes(b"two\n")
    (tmp_path / "d.log.2.gz").write_bytes(__import__("gzip").compress(b"two\n")[:12])
    (tmp_path / "d.log.1").write_bytes(b"one\n")
    log.write_bytes(b"now\n")
    assert shown(log, 10) == b"two\none\nnow\n"


def test_a_corrupt_compressed_file_shows_what_it_holds_and_nothing_older(tmp_path):
    import gzip

    log = tmp_path / "d.log"
    gz(tmp_path / "d.log.3.gz", b"never shown\n")
    whole = gzip.compress(b"".join(b"old %d\n" % i for i in range(20000)))
    (tmp_path / "d.log.2.gz").write_bytes(whole[: len(whole) // 2])  # cut short
    (tmp_path / "d.log.1").write_bytes(b"one\n")
    log.write_bytes(b"now\n")
    out = shown(log, 100000).split(b"\n")
    assert out[0] == b"old 0" and out[-3:] == [b"one", b"now", b""]
    assert b"never shown" not in b"\n".join(out)
    (tmp_path / "d.log.2.gz").write_bytes(b"not gzip at all\n")
    assert shown(log, 100) == b"one\nnow\n"


def test_a_compressed_rotated_file_is_opened_by_the_same_rules(tmp_path):
    log = tmp_path / "d.log"
    log.write_bytes(b"x\n")
    gz(tmp_path / "secret.gz", b"secret\n")
    (tmp_path / "d.log.1.gz").symlink_to(tmp_path / "secret.gz")
    with pytest.raises(PrivilegeError):
        shown(log, 10)


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=60),
    end_newline=st.booleans(),
    wanted=st.integers(min_value=1, max_value=80),
    block=st.integers(min_value=1, max_value=64),
)
def test_the_last_lines_of_a_compressed_file_are_those_of_the_file(tmp_path_factory, lines, end_newline, wanted, block):
    # Trimmed as it is decompressed (small blocks: many trims), the result is the uncompressed file's.
    import gzip

    from daemonctl.store.gzlines import last_lines_of

    data = b"\n".join(lines) + (b"\n" if end_newline and lines else b"")
    path = tmp_path_factory.mktemp("gz") / "d.log.2.gz"
    path.write_bytes(gzip.compress(data))
    start = start_of_last_lines(lambda offset, size: data[offset:offset + size], len(data), wanted, max_line=16, block=8)
    fd = os.open(path, os.O_RDONLY)
    try:
        tail = last_lines_of(fd, wanted, block=block, max_line=16)
    finally:
        os.close(fd)
    assert tail.data == data[start:]
    assert tail.whole == (start == 0)


def test_gzip_is_imported_only_when_a_compressed_file_is_read(tmp_path):
    import subprocess
    import sys

    log = tmp_path / "d.log"
    log.write_bytes(b"a\nb\n")
    (tmp_path / "d.log.1").write_bytes(b"old\n")
    gz(tmp_path / "d.log.2.gz", b"older\n")
    code = ("import sys\n"
            "from daemonctl.store.logread import Source, show\n"
            "out = []\n"
            "show(Source(sys.argv[1], None), int(sys.argv[2]), False, out.append)\n"
            "print(b''.join(out).decode().split(), 'gzip' in sys.modules)\n")
    runs = {n: subprocess.run([sys.executable, "-c", code, str(log), str(n)], capture_output=True, text=True, check=True).stdout
            for n in (2, 3, 4)}
    assert runs == {2: "['a', 'b'] False\n", 3: "['old', 'a', 'b'] False\n", 4: "['older', 'old', 'a', 'b'] True\n"}


@settings(max_examples=200, deadline=None)
@given(
    files=st.lists(st.tuples(st.lists(st.sampled_from([b"a", b"bb", b"ccc dd", b""]), max_size=6), st.booleans()),
                   min_size=1, max_size=4),
    lines=st.integers(min_value=0, max_value=30),
    most=st.integers(min_value=0, max_value=80),
)
def test_at_most_the_last_bytes_of_the_last_lines_across_rotated_files(tmp_path_factory, files, lines, most):
    # The server's cap: the same lines as `logs -n`, of which only the last `most` bytes.
    # Every file ends with a newline here, so nothing is added between files: exactly the last bytes.
    from daemonctl.store.logread import tail as read_tail

    directory = tmp_path_factory.mktemp("cap")
    log = directory / "d.log"
    for n, (content, compressed) in enumerate(files):
        data = b"".join(line + b"\n" for line in content)
        path = log if n == 0 else directory / f"d.log.{n}"
        if compressed and n > 0:
            gz(directory / f"d.log.{n}.gz", data)
        else:
            path.write_bytes(data)
    whole = shown(log, lines)
    out: list[bytes] = []
    fd, end, _, _ = read_tail(Source(str(log), None), lines, out.append, most)
    assert fd is not None
    os.close(fd)
    assert end == log.stat().st_size
    assert b"".join(out) == whole[max(0, len(whole) - most):]


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=60),
    wanted=st.integers(min_value=1, max_value=80),
    most=st.integers(min_value=0, max_value=300),
    block=st.integers(min_value=1, max_value=64),
)
def test_the_last_bytes_of_a_compressed_file_are_those_of_the_file(tmp_path_factory, lines, wanted, most, block):
    import gzip

    from daemonctl.store.gzlines import last_lines_of

    data = b"".join(line + b"\n" for line in lines)
    path = tmp_path_factory.mktemp("gz") / "d.log.2.gz"
    path.write_bytes(gzip.compress(data))
    start = start_of_last_lines(lambda offset, size: data[offset:offset + size], len(data), wanted, max_line=16, block=8)
    start = max(start, len(data) - most)
    fd = os.open(path, os.O_RDONLY)
    try:
        tail = last_lines_of(fd, wanted, block=block, max_line=16, most=most)
    finally:
        os.close(fd)
    assert tail.data == data[start:]
    assert tail.whole == (start == 0)
