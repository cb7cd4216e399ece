"""`logs` of several daemons (a set's instances): every line prefixed by its daemon's name, as
`docker compose logs` does; the last lines of each, then (following) each line as it comes.
"""

import os
import select
from collections.abc import Callable

from daemonctl.store.logread import Follower, Source, tail

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daemonctl.store.inotify import Waiter


class Prefixer:
    """Whole lines of one log, each written after `label | `; a partial line waits for its end."""

    def __init__(self, label: str, width: int, write: Callable[[bytes], None]) -> None:
        self.prefix = f"{label.ljust(width)} | ".encode()
        self.write = write
        self.partial = b""

    def feed(self, data: bytes) -> None:
        data = self.partial + data
        head, sep, self.partial = data.rpartition(b"\n")
        if sep:
            self.write(b"".join(self.prefix + line + b"\n" for line in head.split(b"\n")))

    def flush(self) -> None:
        """The partial line, ended (when nothing more is to come)."""
        if self.partial:
            self.write(self.prefix + self.partial + b"\n")
            self.partial = b""


def show_all(
    sources: list[tuple[str, Source]], lines: int, keep_following: bool, write: Callable[[bytes], None],
    most: int | None = None,
) -> None:
    """The last `lines` lines of each log (with `most`, about their last `most` bytes), in the
    order given; then, with `keep_following`, the lines appended to any of them, until interrupted."""
    width = max((len(label) for label, _ in sources), default=0)
    followers: list[tuple[Prefixer, Follower]] = []
    try:
        for label, source in sources:
            prefixer = Prefixer(label, width, write)
            fd, end, _, opener = tail(source, lines, prefixer.feed, most)
            if keep_following:
                followers.append((prefixer, Follower(source.path, opener=opener, fd=fd, position=end)))
            else:
                if fd is not None:
                    os.close(fd)
                prefixer.flush()
        if keep_following:
            _follow_all(followers)
    finally:
        for _, follower in followers:
            follower.close()


def _follow_all(followers: list[tuple[Prefixer, Follower]]) -> None:
    from daemonctl.store.inotify import Waiter  # ctypes: only to follow

    waiters = []
    try:
        for _, follower in followers:
            waiter = Waiter(os.path.dirname(follower.path) or ".")
            waiters.append(waiter)
            follower.on_open = waiter.watch_file
            if follower.fd is not None:
                waiter.watch_file(follower.path)
        while True:
            got = False
            for prefixer, follower in followers:
                data = follower.read()
                if data:
                    prefixer.feed(data)
                    got = True
            if not got:
                _wait_any(waiters)
    finally:
        for waiter in waiters:
            waiter.close()


def _wait_any(waiters: list["Waiter"]) -> None:
    """Until any log may have changed: an inotify event on any of them, or a short while."""
    from daemonctl.store.inotify import POLL_INTERVAL, SAFETY_INTERVAL, drain

    fds = [w.fd for w in waiters if w.fd is not None]
    if len(fds) < len(waiters):
        select.select(fds, [], [], POLL_INTERVAL)
    else:
        ready, _, _ = select.select(fds, [], [], SAFETY_INTERVAL)
        for fd in ready:
            drain(fd)

