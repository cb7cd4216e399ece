"""--env-file: KEY=VALUE lines read the way systemd reads an EnvironmentFile=.

Blank lines and lines starting with # or ; are skipped. A value may be unquoted
(backslash keeps the next character, trailing whitespace goes), 'single-quoted'
(verbatim, may span lines) or "double-quoted" (backslash escapes " \\ ` $ and newline).
Unlike systemd, a line without "=" or a bad name is an error, not silently ignored.
"""

from __future__ import annotations

import os
import re

from daemonctl.errors import UsageError
from daemonctl.store.safeopen import Refused, Rights, read_file, rights_for

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
BLANK = " \t\r"
MAX_BYTES = 1 << 20  # an environment is far smaller; a larger file is a mistake (or /dev/zero)


class EnvFileError(ValueError):
    """A syntax error; `redacted` says the same without quoting the file's content."""

    def __init__(self, message: str, redacted: str | None = None) -> None:
        super().__init__(message)
        self.redacted = redacted if redacted is not None else message


def load_env_file(path: str, rights: Rights | None = None) -> dict[str, str]:
    """The variables in the file at `path`; UsageError naming the file and line when bad.

    `rights`: the daemon's user, whose rights the file is read with where that
    user can write (see safeopen). Read by root on another user's behalf, the
    file may hold what that user may not see: errors then quote none of it.
    """
    try:
        raw = read_file(path, "--env-file", MAX_BYTES, rights)
    except FileNotFoundError as err:
        raise UsageError(f"--env-file {path}: {err.strerror}") from None
    except Refused as err:
        raise (UsageError(str(err)) if not err.trust else err.to_error()) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"--env-file {path}: not UTF-8 text") from None
    try:
        return parse(text)
    except EnvFileError as err:
        secret = rights is not None and os.geteuid() == 0 and rights_for(path, rights) is None
        raise UsageError(f"--env-file {path}: {err.redacted if secret else err}") from None


def parse(text: str) -> dict[str, str]:
    if "\0" in text:
        raise EnvFileError("contains a NUL character")
    reader = _Reader(text.removeprefix("\ufeff"))
    env: dict[str, str] = {}
    while not reader.done():
        reader.skip(BLANK)
        if reader.peek() == "\n":
            reader.next()
        elif reader.peek() in ("#", ";"):
            reader.comment()
        elif not reader.done():
            key = reader.key()
            env[key] = reader.value()
    return env


class _Reader:
    def __init__(self, text: str) -> None:
        self.text, self.pos, self.line = text, 0, 1

    def done(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if not self.done() else ""

    def next(self) -> str:
        ch = self.peek()
        self.pos += 1
        if ch == "\n":
            self.line += 1
        return ch

    def skip(self, chars: str) -> None:
        while not self.done() and self.peek() in chars:
            self.next()

    def fail(self, message: str, line: int | None = None, redacted: str | None = None) -> EnvFileError:
        where = f"line {line or self.line}: "
        return EnvFileError(where + message, where + (redacted or message))

    def comment(self) -> None:
        # As in systemd, a comment ending in a backslash goes on to the next line.
        while not self.done() and self.peek() != "\n":
            if self.next() == "\\":
                self.next()
        self.next()

    def key(self) -> str:
        line, start = self.line, self.pos
        while not self.done() and self.peek() not in "=\n":
            self.next()
        if self.peek() != "=":
            got = self.text[start : self.pos].strip()
            raise self.fail(f"expected KEY=VALUE, got {got!r}", line, "expected KEY=VALUE")
        key = self.text[start : self.pos].strip(BLANK)
        self.next()
        if not NAME.fullmatch(key):
            raise self.fail(f"invalid variable name {key!r}", line, "invalid variable name")
        return key

    def value(self) -> str:
        """The value up to the end of its (last) line; quotes are special only where a part starts."""
        parts: list[str] = []
        self.skip(BLANK)
        while not self.done() and self.peek() != "\n":
            ch = self.peek()
            if ch == "'":
                parts.append(self._single())
            elif ch == '"':
                parts.append(self._double())
            else:
                parts.append(self._unquoted())
            self.skip(BLANK)
        self.next()
        return "".join(parts)

    def _unquoted(self) -> str:
        out: list[str] = []
        while not self.done() and self.peek() != "\n":
            ch = self.next()
            if ch == "\\":
                escaped = self.next()
                if escaped != "\n":
                    out.append(escaped)
            else:
                out.append(ch)
        return "".join(out).rstrip(BLANK)

    def _single(self) -> str:
        line = self.line
        self.next()
        end = self.text.find("'", self.pos)
        if end < 0:
            raise self.fail("unterminated single quote", line)
        value = self.text[self.pos : end]
        while self.pos <= end:
            self.next()
        return value

    def _double(self) -> str:
        line = self.line
        self.next()
        out: list[str] = []
        while True:
            if self.done():
                raise self.fail("unterminated double quote", line)
            ch = self.next()
            if ch == '"':
                return "".join(out)
            if ch != "\\":
                out.append(ch)
                continue
            escaped = self.next()
            if escaped in '"\\`$':
                out.append(escaped)
            elif escaped != "\n":
                out.append("\\" + escaped)
