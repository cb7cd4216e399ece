"""Quoting for the files `export` writes (systemd unit settings, supervisord's ini), and
for a command shown to a person (the status table), one line whatever its arguments hold.

systemd (systemd.service(5), "Command lines"; systemd.exec(5), Environment=):
words split on whitespace, double quotes group, C escapes are decoded inside them,
`$` expands variables (`$$` is a literal one) and `%` starts a specifier (`%%`).

supervisord: the value is %-interpolated (`%%`), then split with shlex in POSIX mode;
but first its ini parser cuts an inline comment at `;` or `#` after whitespace.
"""

from __future__ import annotations

import re

_SYSTEMD_PLAIN = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")
_C_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


class Unquotable(ValueError):
    """A value that the target format has no way to spell."""


def systemd_word(word: str, expand_dollar: bool = True) -> str:
    """One word of an ExecStart= line; `$` is escaped unless it will not be expanded."""
    if "\0" in word:
        raise Unquotable("contains a NUL character")
    word = word.replace("%", "%%")
    if expand_dollar:
        word = word.replace("$", "$$")
    if _SYSTEMD_PLAIN.fullmatch(word):
        return word
    return '"' + "".join(_c_escape(ch) for ch in word) + '"'


def _c_escape(ch: str) -> str:
    if ch in _C_ESCAPES:
        return _C_ESCAPES[ch]
    if ord(ch) < 0x20 or ord(ch) == 0x7F:
        return f"\\x{ord(ch):02x}"
    return ch


def systemd_exec(executable: str, argv: list[str]) -> str:
    """ExecStart= value that execs `executable` with exactly `argv` (argv[0] included)."""
    path = systemd_word(executable, expand_dollar=False)
    if argv[0] == executable and "$" not in executable:
        return " ".join([path] + [systemd_word(w) for w in argv[1:]])
    # "@" makes the next word argv[0]: the program sees the name daemonctl gave it.
    return " ".join(["@" + path] + [systemd_word(w) for w in argv])


def systemd_env(key: str, value: str) -> str:
    """One Environment= assignment, always quoted."""
    return '"' + "".join(_c_escape(ch) for ch in f"{key}={value}".replace("%", "%%")) + '"'


def supervisor_word(word: str) -> str:
    """One word of a supervisord `command=`, surviving the ini parser, % and shlex."""
    if "\n" in word or "\r" in word or "\0" in word:
        raise Unquotable("contains a line break or NUL, which a supervisord config cannot hold")
    word = word.replace("%", "%%")
    if re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]+", word):
        return word
    # Single-quote the word, with ' spelled '\'' and every ; or # outside the quotes
    # as \; or \#, so no comment character ever follows whitespace.
    out = []
    for chunk in re.split(r"([;#'])", word):
        if chunk in (";", "#", "'"):
            out.append("\\" + chunk)
        elif chunk:
            out.append(f"'{chunk}'")
    return "".join(out) or "''"


_SUPERVISOR_KEY = re.compile(r"[A-Za-z0-9_/.+\-():]+")


def supervisor_env(env: dict[str, str]) -> str:
    """supervisord's `environment=KEY="value",...` (its lexer keeps quotes, knows no escapes)."""
    items = []
    for key, value in env.items():
        if not _SUPERVISOR_KEY.fullmatch(key):
            raise Unquotable(f"variable name {key!r} cannot be written in a supervisord config")
        if "\n" in value or "\r" in value or ('"' in value and "'" in value):
            raise Unquotable(f"the value of {key} cannot be written in a supervisord config")
        quote = "'" if '"' in value else '"'
        items.append(f"{key}={quote}{value.replace('%', '%%')}{quote}")
    return ",".join(items)


_SHELL_PLAIN = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")
_SHELL_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\t": "\\t", "\r": "\\r",
                  "\a": "\\a", "\b": "\\b", "\x1b": "\\e", "\f": "\\f", "\v": "\\v"}


def shell_word(word: str) -> str:
    """`word` as a POSIX shell (or, with control characters, bash's $'...') would take it back.

    The result is printable and on one line: a line break or an escape sequence in an
    argument can neither split a row of the status table nor drive the terminal.
    """
    if _SHELL_PLAIN.fullmatch(word):
        return word
    if word.isprintable():
        return "'" + word.replace("'", "'\\''") + "'"
    return "$'" + "".join(_shell_escape(ch) for ch in word) + "'"


def _shell_escape(ch: str) -> str:
    if ch in _SHELL_ESCAPES:
        return _SHELL_ESCAPES[ch]
    if ch.isprintable():
        return ch
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"  # a byte that was not UTF-8 (surrogateescape): the byte itself
    if code < 0x80:
        return f"\\x{code:02x}"  # ASCII; above it bash's \x is a byte, not the character
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def shell_join(argv: list[str]) -> str:
    """A command line for people to read (and paste): each word quoted as `shell_word` does."""
    return " ".join(shell_word(w) for w in argv)


def printable(text: str) -> str:
    """`text` on one printable line: each control or invisible character as its escape."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _shell_escape(ch) for ch in text)
