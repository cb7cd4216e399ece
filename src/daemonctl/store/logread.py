"""Reading a daemon's log: the last lines, and following it across rotation.

Every file is opened by safeopen's rules: never through a symlink, never blocking on a
FIFO or device, regular files only, and as root with the rights of the daemon's user
where that user can change what the path names.
"""

import os
import re
import stat
from collections.abc import Callable

from daemonctl.errors import Failure, UsageError
from daemonctl.speedups import NamedTuple
from daemonctl.store.lastlines import BLOCK, fd_reader, start_of_last_lines
from daemonctl.store.safeopen import Refused, Rights, open_read
from daemonctl.store.statedir import StateDir, validate_name

RECENT = 4096  # bytes kept from just before the reading position: they recognise the file and its rotated copy
MAX_READ = 8 << 20  # what one Follower.read returns at most; the rest comes at the next call
MAX_COPIES = 8  # rotated copies looked at after a truncation, newest first
MAX_ROTATED = 1000  # rotated files (LOG.1, LOG.2, ...) `-n` and the follower may reach back into
ROTATED_SUFFIX = re.compile(r"[.-][0-9]+")  # NAME.1 (numbered) or NAME-20261130 (dateext)

Opener = Callable[[str], int | None]


class Source(NamedTuple):
    """The log of a daemon, and whose rights reading it takes (None: the caller's own)."""

    path: str
    rights: Rights | None


def log_source(state: StateDir, name: str) -> Source:
    """The stdout log of NAME, from its record (or the default place when it has none)."""
    from daemonctl.reconcile import load_record

    rec = load_record(state, validate_name(name))
    if rec is None:
        path = state.log(name)
        if not os.path.lexists(path):
            raise UsageError(f"no daemon named {name} in {state.path}; list them with daemonctl status")
        return Source(path, None)
    if rec.spec.stdout == os.devnull:
        raise Failure(f"{name} discards its output (stdout is {os.devnull}); nothing to show")
    return Source(rec.spec.stdout, _reader(rec.spec.user, rec.spec.group))


def every_log(state: StateDir) -> list[tuple[str, Source]]:
    """The stdout log of every daemon of the state directory, by name; not those that discard
    their output, and a file two daemons share once (under the first name)."""
    from daemonctl.reconcile import load_record

    sources: dict[str, tuple[str, Source]] = {}
    for name in state.names():
        rec = load_record(state, name)
        if rec is None:  # removed meanwhile
            continue
        if rec.spec.stdout != os.devnull:
            sources.setdefault(rec.spec.stdout, (name, Source(rec.spec.stdout, _reader(rec.spec.user, rec.spec.group))))
    return list(sources.values())


def _reader(user: str | None, group: str | None) -> Rights | None:
    """As root, the daemon's user: what root shows of its log is what that user could read (see safeopen)."""
    if os.geteuid() != 0 or (user is None and group is None):
        return None
    from daemonctl.proc.privileges import credentials_of

    return Rights.of(credentials_of(user, group))


def open_log(path: str, rights: Rights | None = None) -> int | None:
    """A descriptor on the regular file at `path`, None when there is none: the one place `logs` opens a file.

    By safeopen's rules: a symlink, FIFO, device or socket is refused (exit 4), so is
    what the daemon's user could not read where it can change what the path names.
    """
    try:
        return open_read(path, "log", rights)
    except FileNotFoundError:
        return None
    except Refused as err:
        raise err.to_error() from None


def strict_opener(rights: Rights | None) -> Opener:
    return lambda path: open_log(path, rights)


def lenient_open(path: str) -> int | None:
    """`open_log`, where a file refused counts as no file (for readiness checks)."""
    try:
        return open_read(path, "log")
    except (FileNotFoundError, Refused):
        return None


def last_lines(fd: int, lines: int) -> tuple[int, int]:
    """Where the last `lines` lines of the open file begin, and where the file ends now."""
    end = os.fstat(fd).st_size
    return start_of_last_lines(fd_reader(fd), end, lines), end


def copy_range(fd: int, start: int, end: int, write: Callable[[bytes], None]) -> bytes:
    """Write bytes start..end of the file, block by block; the last byte written (b"" if none)."""
    last = b""
    while start < end:
        data = os.pread(fd, min(BLOCK, end - start), start)
        if not data:
            break
        write(data)
        start += len(data)
        last = data[-1:]
    return last


class Follower:
    """What is appended to a file, across rotation.

    Renamed (and a new file created): the old file is read to its end, and the new one
    taken once it holds something (until then the writer may still be writing to the
    old one). Truncated in place (copytruncate): what had not been read yet is read
    from the rotated copy next to it (the newest `NAME*` file holding, where the old
    file stopped being read, the bytes last read), then the file from its start.
    """

    def __init__(
        self,
        path: str,
        start_at_end: bool = True,
        opener: Opener = lenient_open,
        fd: int | None = None,
        position: int | None = None,
        on_open: Callable[[str], None] | None = None,
    ) -> None:
        self.path, self.opener, self.on_open = path, opener, on_open
        self.fd = fd if fd is not None else opener(path)
        self.pos, self.recent = 0, b""
        if self.fd is not None:
            if position is None:
                position = os.fstat(self.fd).st_size if start_at_end else 0
            self._skip_to(position)
            self._opened()

    def _skip_to(self, position: int) -> None:
        assert self.fd is not None
        size = min(RECENT, position)
        self.pos, self.recent = position, os.pread(self.fd, size, position - size)

    def _opened(self) -> None:
        if self.on_open is not None:
            self.on_open(self.path)

    def read(self) -> bytes:
        """Whatever is new since the last call (b"" when nothing is)."""
        out = bytearray()
        if self.fd is None:
            self.fd = self.opener(self.path)
            if self.fd is None:
                return b""
            self.pos, self.recent = 0, b""
            self._opened()
        if self._truncated():
            out += self._rest_of_rotated_copy()
            self.pos, self.recent = 0, b""
        out += self._read_to_end(MAX_READ)
        if len(out) < MAX_READ:
            out += self._follow_name()
        return bytes(out)

    def _truncated(self) -> bool:
        assert self.fd is not None
        if os.fstat(self.fd).st_size < self.pos:
            return True
        # Truncated and written again beyond where we were: the bytes before it changed.
        return bool(self.recent) and os.pread(self.fd, len(self.recent), self.pos - len(self.recent)) != self.recent

    def _read_to_end(self, limit: int) -> bytes:
        assert self.fd is not None
        data = _read_from(self.fd, self.pos, limit)
        self.pos += len(data)
        self.recent = data[-RECENT:] if len(data) >= RECENT else (self.recent + data)[-RECENT:]
        return data

    def _rest_of_rotated_copy(self) -> bytes:
        """What the copy of a copytruncate holds beyond what was read, and any newer whole copy.

        Newer copies (`NAME.1` when the match is `NAME.2`) are periods rotated while we
        were not looking: shown whole, oldest first.
        """
        if not self.recent:
            return b""  # nothing was read yet: the copy holds nothing we missed
        directory, base = os.path.split(self.path)
        candidates = []
        try:
            entries = list(os.scandir(directory or "."))
        except OSError:
            return b""
        for entry in entries:
            if entry.name == base or not entry.name.startswith(base):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                candidates.append((st.st_mtime_ns, entry.name, st.st_size))
        newest_first = sorted(candidates, reverse=True)[:MAX_COPIES]
        for k, (_, name, size) in enumerate(newest_first):
            if size < self.pos:
                continue
            data = self._read_copy(os.path.join(directory, name), self.pos, self.recent)
            if data is None:
                continue
            for _, newer, _ in reversed(newest_first[:k]):
                if ROTATED_SUFFIX.fullmatch(newer[len(base):]):
                    data += self._read_copy(os.path.join(directory, newer), 0, b"") or b""
            return data
        return b""

    def _read_copy(self, path: str, position: int, expected: bytes) -> bytes | None:
        """The copy from `position` on, if the bytes just before it are `expected`; else None."""
        try:
            fd = self.opener(path)
        except Exception:  # a copy we may not read is not the copy we look for
            return None
        if fd is None:
            return None
        try:
            if os.pread(fd, len(expected), position - len(expected)) != expected:
                return None
            return _read_from(fd, position, None)
        finally:
            os.close(fd)

    def _follow_name(self) -> bytes:
        """When the path names another file, the rest of the old one and the new one's start."""
        assert self.fd is not None
        try:
            st = os.lstat(self.path)
        except OSError:
            return b""  # renamed away; the new one is not there yet
        current = os.fstat(self.fd)
        if (st.st_ino, st.st_dev) == (current.st_ino, current.st_dev):
            return b""
        if st.st_size == 0 and current.st_nlink > 0:
            return b""  # the writer may not have reopened yet: keep reading the old file
        new = self.opener(self.path)
        if new is None:
            return b""
        data = self._read_to_end(MAX_READ)  # anything written to the old file since
        data += self._rotated_since(current)
        os.close(self.fd)
        self.fd, self.pos, self.recent = new, 0, b""
        self._opened()
        return data + self._read_to_end(MAX_READ)

    def _rotated_since(self, old: os.stat_result) -> bytes:
        """Whole files rotated after the one we were reading (LOG.K is it: LOG.K-1 ... LOG.1), oldest first.

        A writer that rotates faster than we look (a small --log-max-size, a busy machine)
        may have filled and renamed more than one file meanwhile. Each is opened by its
        name and taken only if it is still the file seen when the names were looked at.
        """
        seen: list[tuple[int, os.stat_result]] = []
        for n in range(1, MAX_ROTATED + 1):
            try:
                st = os.lstat(f"{self.path}.{n}")
            except OSError:
                return b""  # the old file is not among the numbered ones (removed, or named otherwise)
            if (st.st_dev, st.st_ino) == (old.st_dev, old.st_ino):
                break
            seen.append((n, st))
        else:
            return b""
        data = []
        for n, st in reversed(seen):
            fd = self.opener(f"{self.path}.{n}")
            if fd is None:
                break
            try:
                mine = os.fstat(fd)
                if (mine.st_dev, mine.st_ino) != (st.st_dev, st.st_ino):
                    break  # renamed again under us: what is left is not safely ordered
                data.append(_read_from(fd, 0, None))
            finally:
                os.close(fd)
        return b"".join(data)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _read_from(fd: int, position: int, limit: int | None) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while limit is None or size < limit:
        data = os.pread(fd, BLOCK, position + size)
        if not data:
            break
        chunks.append(data)
        size += len(data)
    return b"".join(chunks)


def follow(follower: Follower, write: Callable[[bytes], None], wait: Callable[[], None], rounds: int | None = None) -> None:
    """Write what the follower reads, waiting between reads that find nothing, until interrupted."""
    n = 0
    while rounds is None or n < rounds:
        data = follower.read()
        if data:
            write(data)
        else:
            wait()
        n += 1


def count_lines(fd: int, start: int, end: int) -> int:
    """Lines in bytes start..end of the file (a last one without its newline counts)."""
    count, last = 0, b""
    while start < end:
        data = os.pread(fd, min(BLOCK, end - start), start)
        if not data:
            break
        count += data.count(b"\n")
        start += len(data)
        last = data[-1:]
    return count + (1 if last not in (b"", b"\n") else 0)


Older = tuple[int, int, int] | bytes  # (fd, start, end) of a plain file's last lines, or a compressed one's


def older_lines(path: str, wanted: int, opener: Opener, most: int | None = None) -> list[Older]:
    """The last `wanted` lines in the rotated files LOG.1, LOG.2, ..., oldest first: (fd, start, end)
    of a plain file, the lines themselves of a compressed one (LOG.N.gz, logrotate's `compress`);
    with `most`, only their last `most` bytes (the oldest line shown may be cut at its start).

    Each plain file is read only as far back as the lines asked for reach, a compressed one
    whole; a missing one ends the search. LOG.N wins over LOG.N.gz: while logrotate compresses
    LOG.N, the .gz beside it is not whole yet.
    """
    found: list[Older] = []
    try:
        for n in range(1, MAX_ROTATED + 1):
            if wanted <= 0 or (most is not None and most <= 0):
                break
            fd = opener(f"{path}.{n}")
            if fd is None:
                fd = opener(f"{path}.{n}.gz")
                if fd is None:
                    break
                try:
                    from daemonctl.store.gzlines import last_lines_of  # gzip: only when such a file is read

                    tail = last_lines_of(fd, wanted, most=most)
                finally:
                    os.close(fd)
                found.append(tail.data)
                if not tail.whole:
                    break
                wanted -= tail.data.count(b"\n") + (1 if tail.data[-1:] not in (b"", b"\n") else 0)
                most = None if most is None else most - len(tail.data)
                continue
            found.append((fd, 0, 0))
            start, end = last_lines(fd, wanted)
            if most is not None and end - start > most:
                start = end - most
            found[-1] = (fd, start, end)
            if start > 0:
                break  # the file holds more lines than asked for: nothing older is needed
            wanted -= count_lines(fd, start, end)
            most = None if most is None else most - end
    except BaseException:
        _close(found)
        raise
    return found[::-1]


def _close(parts: list[Older]) -> None:
    for part in parts:
        if isinstance(part, tuple):
            os.close(part[0])


def _write_older(parts: list[Older], write: Callable[[bytes], None]) -> None:
    try:
        for part in parts:
            if isinstance(part, tuple):
                last = copy_range(*part, write)
            else:
                if part:
                    write(part)
                last = part[-1:]
            if last not in (b"", b"\n"):
                write(b"\n")
    finally:
        _close(parts)


def tail(
    source: Source, lines: int, write: Callable[[bytes], None], most: int | None = None,
) -> tuple[int | None, int, bytes, Opener]:
    """Open the log and write its last `lines` lines, reaching back into its rotated files;
    with `most`, only about their last `most` bytes (a log of very long lines is cut at its start).

    Returns the open file (None: there is none) and the offset the lines end at, to follow
    from; the last byte written; and the opener, for the files that follow.
    """
    opener = strict_opener(source.rights)
    fd = opener(source.path)
    if fd is None:
        return None, 0, b"", opener
    try:
        start, end = last_lines(fd, lines)
        if most is not None and end - start > most:
            start = end - most
        elif start == 0:
            room = None if most is None else most - end
            _write_older(older_lines(source.path, lines - count_lines(fd, 0, end), opener, room), write)
        last = copy_range(fd, start, end, write)
    except BaseException:
        os.close(fd)
        raise
    return fd, end, last, opener


def show(source: Source, lines: int, keep_following: bool, write: Callable[[bytes], None]) -> None:
    """`logs`: the last lines of the log (reaching back into its rotated files, LOG.1 ...), then
    (with `keep_following`) what is appended to it.

    One open file serves both, so nothing written in between is lost.
    """
    fd, end, last, opener = tail(source, lines, write)
    if not keep_following:
        if fd is not None:
            os.close(fd)
        if last not in (b"", b"\n"):
            write(b"\n")
        return
    from daemonctl.store.inotify import Waiter  # ctypes: only to follow

    waiter = Waiter(os.path.dirname(source.path) or ".")
    follower = Follower(source.path, opener=opener, fd=fd, position=end, on_open=waiter.watch_file)
    try:
        follow(follower, write, waiter.wait)
    finally:
        follower.close()
        waiter.close()
