"""The routes of /api/v1: a request (method, path, query, body) to a reply, never to a traceback.

| method | path                           | what                                              |
|--------|--------------------------------|---------------------------------------------------|
| GET    | /daemons                       | every daemon: the array of `status --json`        |
| GET    | /daemons/NAME                  | one daemon: the object of `status --json NAME`; a set: its array |
| POST   | /daemons/NAME/start|stop|restart | the change, as `daemonctl start -n NAME` etc.    |
| POST   | /daemons/NAME/signal           | body {"signal": "HUP"} (a name or number)         |
| GET    | /daemons/NAME/logs?lines=N     | {"name", "lines": [...]} (N default 10)           |
| GET    | /daemons/NAME/logs?follow=1    | the last N lines, then each new one: text/event-stream |
| GET    | /samples                       | CPU and memory over the last minutes (sampler.py) |
| GET    | /server                        | {"version", "state_dir", "read_only"}             |
"""

import json
import os
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote

from daemonctl import __version__
from daemonctl.errors import DaemonctlError, NotRunning, UsageError
from daemonctl.serve.logstream import MAX_BYTES, MAX_LINES, decode, tail
from daemonctl.serve.statuses import for_exit
from daemonctl.speedups import NamedTuple
from daemonctl.store.logread import Source
from daemonctl.store.statedir import StateDir, validate_name

CHANGES = ("start", "stop", "restart", "signal")


class Reply(NamedTuple):
    status: int
    body: Any  # turned into JSON


class Stream(NamedTuple):
    """A log to follow as server-sent events."""

    source: Source
    lines: int


def error(status: int, message: str, **extra: Any) -> Reply:
    return Reply(status, {"error": message, **extra})


class Api:
    def __init__(
        self,
        state: StateDir,
        read_only: bool,
        samples: Callable[[], dict[str, Any]],
        act: Callable[[str, str, str, int | None], dict[str, Any]],
    ) -> None:
        self.state, self.read_only, self.samples, self.act = state, read_only, samples, act

    def handle(self, method: str, path: str, query: str, body: bytes) -> Reply | Stream:
        parts = [unquote(p) for p in path.split("/")[1:]]
        try:
            return self._route(method, parts, parse_qs(query, keep_blank_values=True), body)
        except DaemonctlError as err:
            return error(for_exit(err.exit_code), err.message)

    def _route(self, method: str, parts: list[str], query: dict[str, list[str]], body: bytes) -> Reply | Stream:
        if parts == ["daemons"]:
            self._method(method, "GET", parts)
            return Reply(200, self._all())
        if parts == ["samples"]:
            self._method(method, "GET", parts)
            return Reply(200, self.samples())
        if parts == ["server"]:
            self._method(method, "GET", parts)
            return Reply(200, {"version": __version__, "state_dir": self.state.path, "read_only": self.read_only})
        if len(parts) < 2 or parts[0] != "daemons" or len(parts) > 3:
            return error(404, f"no such endpoint /api/v1/{'/'.join(parts)}")
        name = validate_name(parts[1])
        if len(parts) == 2:
            self._method(method, "GET", parts)
            return self._one(name)
        what = parts[2]
        if what == "logs":
            self._method(method, "GET", parts)
            return self._logs(name, query)
        if what not in CHANGES:
            return error(404, f"no such endpoint /api/v1/{'/'.join(parts)}")
        self._method(method, "POST", parts)
        if self.read_only:
            return error(403, "this server is read-only (serve --read-only): it changes nothing")
        signal = _signal(body) if what == "signal" else None
        if not self._known(name):
            return self._unknown(name)
        answer = self.act(self.state.path, what, name, signal)
        code = answer["exit"]
        if code == 0:
            return Reply(200, answer.get("result"))
        return error(for_exit(code), str(answer.get("error")), log_tail=answer.get("log_tail") or [])

    @staticmethod
    def _method(method: str, expected: str, parts: list[str]) -> None:
        if method != expected:
            raise UsageError(f"/api/v1/{'/'.join(parts)} takes {expected}, not {method}")

    def _known(self, name: str) -> bool:
        return any(os.path.lexists(p) for p in (self.state.record(name), self.state.pidfile(name))) or self._is_set(name)

    def _is_set(self, name: str) -> bool:
        from daemonctl.sets import set_members

        return set_members(self.state, name) is not None

    def _unknown(self, name: str) -> Reply:
        return error(404, f"no daemon named {name} in {self.state.path}")

    def _all(self) -> list[dict[str, Any]]:
        from daemonctl.status import status_all

        return [r.to_json() for r in status_all(self.state)]

    def _one(self, name: str) -> Reply:
        from daemonctl.status import status_one

        if self._is_set(name):
            from daemonctl.sets import status_set

            return Reply(200, [r.to_json() for r in status_set(self.state, name)])  # as `status --json NAME`
        try:
            return Reply(200, status_one(self.state, name, None).to_json())
        except NotRunning:
            return self._unknown(name)

    def _logs(self, name: str, query: dict[str, list[str]]) -> Reply | Stream:
        from daemonctl.store.logread import log_source

        lines = _number(query, "lines", 10, MAX_LINES)
        follow = _number(query, "follow", 0, 1)
        if not self._known(name) and not os.path.lexists(self.state.log(name)):
            return self._unknown(name)
        if self._is_set(name):
            if follow:
                raise UsageError(f"{name} is a set: follow one instance's log at a time ({name}@1, ...)")
            return Reply(200, {"name": name, "lines": self._set_lines(name, lines)})
        source = log_source(self.state, name)
        if follow:
            return Stream(source, lines)
        text, fd, _ = tail(source, lines)
        if fd is not None:
            os.close(fd)
        return Reply(200, {"name": name, "lines": text})

    def _set_lines(self, name: str, lines: int) -> list[str]:
        """The last lines of each instance, each prefixed by its name, as `logs NAME` prints a set's."""
        from daemonctl.sets import require_set
        from daemonctl.store.logread import log_source
        from daemonctl.store.logsets import show_all

        chunks: list[bytes] = []
        sources = [(member, log_source(self.state, member)) for member in require_set(self.state, name).values()]
        show_all(sources, lines, False, chunks.append, MAX_BYTES)
        text = b"".join(chunks)
        return decode(text.removesuffix(b"\n")) if text else []


def _number(query: dict[str, list[str]], key: str, default: int, most: int) -> int:
    values = query.get(key)
    if not values:
        return default
    text = values[-1]
    if not text.isdigit() or int(text) > most:
        raise UsageError(f"{key} must be a whole number from 0 to {most}, not {text[:40]!r}")
    return int(text)


def _signal(body: bytes) -> int:
    from daemonctl.signals import parse_signal

    try:
        data = json.loads(body.decode("utf-8")) if body.strip() else None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise UsageError('the body must be JSON: {"signal": "HUP"}') from None
    value = data.get("signal") if isinstance(data, dict) else None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise UsageError('give the signal in the body: {"signal": "HUP"} (a name or a number)')
    try:
        return parse_signal(str(value))
    except ValueError as err:
        raise UsageError(str(err)) from None
