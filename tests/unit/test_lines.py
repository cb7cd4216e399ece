"""The log writer's line cutting and stamping (supervise/lines.py): whole lines, 64 KiB pieces, one prefix per line."""

import os
import re
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemonctl.supervise.lines import MAX_LINE, LineBuffer, LocalStamp, offset, stamp


def feed_all(chunks, max_line=MAX_LINE):
    buf = LineBuffer(max_line)
    return b"".join(buf.feed(c) for c in chunks) + buf.flush()


def test_whole_lines_pass_and_the_unfinished_one_waits():
    buf = LineBuffer()
    assert buf.feed(b"one\ntw") == b"one\n"
    assert buf.feed(b"o") == b""
    assert buf.feed(b"\nthree\n") == b"two\nthree\n"
    assert buf.flush() == b""


def test_flush_ends_the_unfinished_line_with_a_newline():
    buf = LineBuffer()
    buf.feed(b"a\nlast words")
    assert buf.flush() == b"last words\n"
    assert buf.flush() == b""


def test_a_line_of_exactly_the_limit_stays_whole():
    line = b"x" * 16 + b"\n"
    assert feed_all([line], max_line=16) == line
    assert feed_all([line[:10], line[10:]], max_line=16) == line


def test_a_longer_line_becomes_pieces_of_the_limit_each_a_line():
    out = feed_all([b"a\n" + b"y" * 40 + b"\nb\n"], max_line=16)
    assert out == b"a\n" + b"y" * 16 + b"\n" + b"y" * 16 + b"\n" + b"y" * 8 + b"\nb\n"


def test_an_unfinished_line_past_the_limit_is_written_in_pieces_before_its_end_comes():
    buf = LineBuffer(16)
    assert buf.feed(b"z" * 20) == b"z" * 16 + b"\n"
    assert buf.pending == b"zzzz"
    assert buf.feed(b"z\n") == b"zzzzz\n"


def test_real_limit_is_64_kib():
    big = os.urandom(100_000).replace(b"\n", b"a")
    out = feed_all([big + b"\n"])
    assert out.split(b"\n")[:-1] == [big[:65536], big[65536:]]


@given(st.lists(st.binary(max_size=70), max_size=30), st.integers(1, 20))
def test_any_chunking_gives_every_byte_once_in_lines_no_longer_than_the_limit(chunks, limit):
    data = b"".join(chunks)
    out = feed_all(chunks, max_line=limit)
    assert out.replace(b"\n", b"") == data.replace(b"\n", b"")
    assert all(len(line) <= limit for line in out.split(b"\n"))
    assert out == feed_all([data], max_line=limit)  # the same lines however the reads cut the stream
    assert out.endswith(b"\n") or out == b""


def test_stamp_prefixes_every_line_once():
    assert stamp(b"a\nb\n\nc\n", b"T ") == b"T a\nT b\nT \nT c\n"
    assert stamp(b"", b"T ") == b""


def test_local_stamp_is_iso8601_with_milliseconds_offset_and_a_space(monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        clock = iter([1_700_000_000.25, 1_700_000_000.999_9, 1_700_000_001.0])
        stamper = LocalStamp(lambda: next(clock))
        assert stamper() == b"2023-11-15T03:43:20.250+05:30 "
        assert stamper() == b"2023-11-15T03:43:20.999+05:30 "
        assert stamper() == b"2023-11-15T03:43:21.000+05:30 "
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


@pytest.mark.parametrize("seconds, text", [(0, "+00:00"), (3600, "+01:00"), (-12600, "-03:30"), (20700, "+05:45")])
def test_offset(seconds, text):
    assert offset(seconds) == text


def test_stamp_format_matches_the_contract():
    assert re.fullmatch(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d ", LocalStamp()())
