"""One thread that enforces every request's deadline (rather than a timer thread per connection)."""

import socket
import threading
import time
from collections.abc import Callable

TICK = 0.25  # how late past its deadline a request may be cut off


class Deadlines:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.pending: dict[int, tuple[float, socket.socket, Callable[[], None]]] = {}
        self.stopping = threading.Event()

    def add(self, seconds: float, conn: socket.socket, expired: Callable[[], None]) -> int:
        """Watch `conn`: past `seconds`, call `expired` and end its input. Returns a key for `cancel`."""
        key = id(conn)
        with self.lock:
            self.pending[key] = (self.clock() + seconds, conn, expired)
        return key

    def cancel(self, key: int) -> None:
        with self.lock:
            self.pending.pop(key, None)

    def check(self) -> None:
        now = self.clock()
        with self.lock:
            due = [k for k, (when, _, _) in self.pending.items() if when <= now]
            late = [self.pending.pop(k) for k in due]
        for _, conn, expired in late:
            expired()
            try:
                # A reader blocked in recv() sees the end of the input and gives up on the request.
                conn.shutdown(socket.SHUT_RD)
            except OSError:
                pass

    def run(self) -> None:
        while not self.stopping.wait(TICK):
            self.check()

    def start(self) -> None:
        threading.Thread(target=self.run, name="deadlines", daemon=True).start()
