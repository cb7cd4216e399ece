"""Rotation by size and the full disk (store/rotation.py), on an in-memory file system, and once on a real one."""

import errno
import os
import re

import pytest

from daemonctl.store.rotation import RECHECK, RotatingLog, SafeOps


class FakeFs:
    """Files as bytearrays by path; fds name files (inodes), as the kernel's do."""

    def __init__(self):
        self.files: dict[str, bytearray] = {}
        self.fds: dict[int, bytearray] = {}
        self.next_fd = 3
        self.space: int | None = None  # bytes the disk still takes (None: unlimited)
        self.refuse_open = False
        self.refuse_rename = False

    def open(self, path):
        if self.refuse_open:
            raise OSError(errno.EACCES, "Permission denied")
        inode = self.files.setdefault(path, bytearray())
        fd, self.next_fd = self.next_fd, self.next_fd + 1
        self.fds[fd] = inode
        return fd

    def rename(self, source, target):
        if self.refuse_rename:
            raise OSError(errno.EACCES, "Permission denied")
        if source not in self.files:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory")
        self.files[target] = self.files.pop(source)

    def unlink(self, path):
        del self.files[path]

    def write(self, fd, data):
        n = len(data) if self.space is None else min(len(data), self.space)
        if n == 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.fds[fd] += data[:n]
        if self.space is not None:
            self.space -= n
        return n

    def close(self, fd):
        del self.fds[fd]

    def size(self, fd):
        return len(self.fds[fd])

    def truncate(self, fd, size):
        del self.fds[fd][size:]

    def same(self, fd, path):
        return self.files.get(path) is self.fds[fd]


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def lines(start, count, width=9):
    return b"".join(b"%0*d\n" % (width, n) for n in range(start, start + count))


def everything(fs, path="/l/out.log"):
    """All the lines of the log and its rotations, oldest first."""
    names = sorted((p for p in fs.files if p.startswith(path + ".")), key=lambda p: -int(p.rsplit(".", 1)[1]))
    return b"".join(bytes(fs.files[p]) for p in [*names, path])


def make(fs, max_size=100, keep=5, clock=None, **kw):
    return RotatingLog("/l/out.log", max_size, keep, fs, clock=clock or Clock(), wall=lambda: 0.0, **kw)


def test_rotation_keeps_every_file_at_most_the_size_and_cuts_only_between_lines():
    fs = FakeFs()
    log = make(fs, max_size=100, keep=50)
    for n in range(0, 200, 7):  # 7 lines of 10 bytes a write: rotations fall inside writes
        log.write(lines(n, 7))
    assert everything(fs) == lines(0, 203)
    for path, data in fs.files.items():
        assert len(data) <= 100 and data.endswith(b"\n"), path
    assert len(fs.files["/l/out.log.1"]) == 100  # filled to the size exactly: 10 lines


def test_the_oldest_rotation_goes_beyond_keep():
    fs = FakeFs()
    log = make(fs, max_size=20, keep=2)
    for n in range(10):
        log.write(lines(n, 1))
    assert sorted(fs.files) == ["/l/out.log", "/l/out.log.1", "/l/out.log.2"]
    assert everything(fs) == lines(4, 6)


def test_keep_zero_starts_the_log_anew():
    fs = FakeFs()
    log = make(fs, max_size=20, keep=0)
    log.write(lines(0, 5))
    assert sorted(fs.files) == ["/l/out.log"] and bytes(fs.files["/l/out.log"]) == lines(4, 1)


def test_a_line_larger_than_the_size_goes_alone_into_a_file():
    fs = FakeFs()
    log = make(fs, max_size=20)
    big = b"b" * 50 + b"\n"
    log.write(lines(0, 1) + big + lines(1, 1))
    assert bytes(fs.files["/l/out.log.2"]) == lines(0, 1)
    assert bytes(fs.files["/l/out.log.1"]) == big
    assert bytes(fs.files["/l/out.log"]) == lines(1, 1)


def test_a_log_already_past_the_size_is_rotated_at_the_first_write():
    fs = FakeFs()
    fs.files["/l/out.log"] = bytearray(lines(0, 30))
    log = make(fs, max_size=100)
    log.write(lines(30, 1))
    assert bytes(fs.files["/l/out.log.1"]) == lines(0, 30) and bytes(fs.files["/l/out.log"]) == lines(30, 1)


def test_without_a_size_nothing_rotates():
    fs = FakeFs()
    log = make(fs, max_size=None)
    log.write(lines(0, 1000))
    assert list(fs.files) == ["/l/out.log"]


def test_full_disk_drops_whole_lines_cuts_a_partial_one_and_says_so_once_space_is_back():
    fs = FakeFs()
    log = make(fs, max_size=None)
    log.write(lines(0, 2))
    fs.space = 25  # two lines and half of a third
    log.write(lines(2, 5))
    assert bytes(fs.files["/l/out.log"]) == lines(0, 4)  # the half line was cut back
    log.write(lines(7, 1))  # still full: dropped too
    fs.space = None
    log.write(lines(8, 1))
    text = bytes(fs.files["/l/out.log"])
    assert text.startswith(lines(0, 4))
    notice = text[len(lines(0, 4)):].split(b"\n")[0]
    assert notice.startswith(b"daemonctl: log writer: dropped 4 lines (40 bytes)")
    assert re.fullmatch(rb".* of output written from \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d "
                        rb"to \S+: No space left on device", notice)
    assert text.endswith(b"\n" + lines(8, 1))


def test_the_notice_is_stamped_like_the_lines():
    fs = FakeFs()
    log = make(fs, max_size=None, stamp=lambda: b"T ")
    fs.space = 0
    log.write(b"T x\n")
    fs.space = None
    log.write(b"T y\n")
    assert bytes(fs.files["/l/out.log"]).startswith(b"T daemonctl: log writer: dropped 1 line (4 bytes)")


def test_a_notice_that_does_not_fit_is_not_left_half_written():
    fs = FakeFs()
    log = make(fs, max_size=None)
    fs.space = 0
    log.write(lines(0, 3))
    fs.space = 10
    log.write(lines(3, 1))
    assert bytes(fs.files["/l/out.log"]) == b""
    fs.space = None
    log.write(lines(4, 1))
    assert b"dropped 4 lines (40 bytes)" in bytes(fs.files["/l/out.log"])


def test_a_renamed_log_is_reopened_by_name_within_a_second():
    fs = FakeFs()
    clock = Clock()
    log = make(fs, max_size=None, clock=clock)
    log.write(lines(0, 1))
    fs.rename("/l/out.log", "/l/out.log.1")  # logrotate without copytruncate
    log.write(lines(1, 1))  # the same second: still the old file
    clock.now += RECHECK
    log.write(lines(2, 1))
    assert bytes(fs.files["/l/out.log.1"]) == lines(0, 2)
    assert bytes(fs.files["/l/out.log"]) == lines(2, 1)


def test_a_log_truncated_in_place_counts_its_size_anew():
    fs = FakeFs()
    clock = Clock()
    log = make(fs, max_size=100, clock=clock)
    log.write(lines(0, 9))
    del fs.files["/l/out.log"][:]  # copytruncate
    clock.now += RECHECK
    log.write(lines(9, 5))
    assert "/l/out.log.1" not in fs.files and bytes(fs.files["/l/out.log"]) == lines(9, 5)


def test_a_rotation_that_fails_says_so_once_and_writes_on():
    fs = FakeFs()
    log = make(fs, max_size=20)
    fs.refuse_rename = True
    log.write(lines(0, 5))
    log.write(lines(5, 5))
    text = bytes(fs.files["/l/out.log"])
    assert text.count(b"daemonctl: log writer: cannot rotate") == 1
    assert text.replace(text[text.index(b"daemonctl"):text.index(b"writing on to it\n") + 17], b"") == lines(0, 10)


def test_a_new_log_that_cannot_be_opened_drops_and_tells_once_it_can():
    fs = FakeFs()
    log = make(fs, max_size=20)
    log.write(lines(0, 2))
    fs.refuse_open = True
    log.write(lines(2, 2))  # rotation renames, then cannot create the new log
    log.write(lines(4, 1))
    fs.refuse_open = False
    log.write(lines(5, 1))
    text = everything(fs)
    assert text.startswith(lines(0, 2) + b"daemonctl: log writer: dropped 3 lines (30 bytes)")
    assert b"Permission denied" in text and text.endswith(b"\n" + lines(5, 1)) and text.count(b"\n") == 4


def test_safe_ops_on_a_real_directory(tmp_path):
    path = str(tmp_path / "out.log")
    log = RotatingLog(path, 30, 2, SafeOps())
    for n in range(10):
        log.write(lines(n, 1))
    log.close()
    assert sorted(os.listdir(tmp_path)) == ["out.log", "out.log.1", "out.log.2"]
    assert b"".join((tmp_path / n).read_bytes() for n in ("out.log.2", "out.log.1", "out.log")) == lines(3, 7)


def test_safe_ops_refuse_a_symlink_planted_as_the_new_log(tmp_path):
    target = tmp_path / "target"
    path = tmp_path / "out.log"
    log = RotatingLog(str(path), 10, 1, SafeOps())
    log.write(lines(0, 1))
    os.rename(path, tmp_path / "moved")
    path.symlink_to(target)
    log.checked = -RECHECK  # look at the name at the next write
    log.write(lines(1, 1))
    assert not target.exists()


@pytest.mark.parametrize("keep", [1, 3])
def test_each_rotation_moves_every_file_one_step(keep):
    fs = FakeFs()
    log = make(fs, max_size=10, keep=keep)
    for n in range(keep + 1):
        log.write(lines(n, 1))
    assert [bytes(fs.files[f"/l/out.log.{k}"]) for k in range(1, keep + 1)] == [lines(keep - k, 1) for k in range(1, keep + 1)]
