import configparser
import os
import shlex
import subprocess

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from daemonctl.quoting import (
    Unquotable,
    printable,
    shell_join,
    shell_word,
    supervisor_env,
    supervisor_word,
    systemd_env,
    systemd_exec,
    systemd_word,
)


@pytest.mark.parametrize("word,quoted", [
    ("plain", "plain"),
    ("--name=x", "--name=x"),
    ("a b", '"a b"'),
    ("", '""'),
    ("$HOME", '"$$HOME"'),
    ("100%", "100%%"),
    (";", '";"'),
    ('say "hi"\\', '"say \\"hi\\"\\\\"'),
    ("line\nbreak\t", '"line\\nbreak\\t"'),
    ("bell\x07", '"bell\\x07"'),
    ("it's", '"it\'s"'),
])
def test_systemd_word(word, quoted):
    assert systemd_word(word) == quoted


def test_systemd_exec_keeps_argv0_with_at_prefix():
    assert systemd_exec("/bin/sleep", ["/bin/sleep", "5"]) == "/bin/sleep 5"
    assert systemd_exec("/usr/bin/python3", ["python3", "-c", "print(1)"]) == '@/usr/bin/python3 python3 -c "print(1)"'
    assert systemd_exec("/opt/my app/run", ["run"]) == '@"/opt/my app/run" run'


def test_systemd_env_is_quoted_and_escaped():
    assert systemd_env("A", 'x "y" 50%') == '"A=x \\"y\\" 50%%"'
    assert systemd_env("B", "$HOME") == '"B=$HOME"'  # Environment= does not expand $


def test_systemd_rejects_nul():
    with pytest.raises(Unquotable):
        systemd_word("a\0b")


def supervisor_argv(command: str) -> list[str]:
    """What supervisord makes of `command=...`: ini parsing, % expansion, shlex."""
    parser = configparser.RawConfigParser(inline_comment_prefixes=(";", "#"))
    parser.read_string(f"[program:x]\ncommand={command}\n")
    return shlex.split(parser.get("program:x", "command") % {})


@pytest.mark.parametrize("argv", [
    ["/bin/echo", "plain"],
    ["/bin/sh", "-c", "echo a ; echo b # not a comment"],
    ["/bin/echo", "it's", '"dq"', "", "50%", "$HOME", "back\\slash", "#hash", ";semi", "tab\tx"],
])
def test_supervisor_command_round_trips(argv):
    assert supervisor_argv(" ".join(supervisor_word(w) for w in argv)) == argv


def test_supervisor_rejects_line_breaks():
    with pytest.raises(Unquotable):
        supervisor_word("a\nb")


def test_supervisor_env_quotes_and_refuses_what_it_cannot_spell():
    assert supervisor_env({"A": "x, y", "B": 'say "hi"'}) == "A=\"x, y\",B='say \"hi\"'"
    with pytest.raises(Unquotable):
        supervisor_env({"A": "both ' and \""})
    with pytest.raises(Unquotable):
        supervisor_env({"A B": "x"})


@pytest.mark.parametrize("word,shown", [
    ("plain", "plain"),
    ("--port=80", "--port=80"),
    ("", "''"),
    ("a b", "'a b'"),
    ("it's", "'it'\\''s'"),
    ("$HOME", "'$HOME'"),
    ("line\nbreak", "$'line\\nbreak'"),
    ("tab\there's", "$'tab\\there\\'s'"),
    ("\x1b[31mred", "$'\\e[31mred'"),
    ("bell\x07\x01\x7f", "$'bell\\a\\x01\\x7f'"),
    ("caf\u00e9", "'caf\u00e9'"),
    ("rtl\u202eoverride", "$'rtl\\u202eoverride'"),
    ("line\u2028sep", "$'line\\u2028sep'"),
    ("raw\udcffbyte", "$'raw\\xffbyte'"),
])
def test_shell_word_is_one_printable_line(word, shown):
    assert shell_word(word) == shown
    assert shown.isprintable()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(), min_size=1, max_size=4))
@example(["raw\udcff\udc80bytes", "\x80\x9f", "\U0001f600\U000e0001"])
def test_shell_join_round_trips_through_bash(argv):
    """What the status table shows is the command: bash reads back exactly the same words."""
    argv = [w.replace("\0", "") for w in argv]  # no argument can hold a NUL
    shown = shell_join(argv)
    assert shown.isprintable()
    out = subprocess.run(["bash", "-c", 'printf "%s\\0" ' + shown], capture_output=True, timeout=10,
                         env={"LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin"}).stdout
    assert out.split(b"\0")[:-1] == [os.fsencode(w) for w in argv]


def test_printable_escapes_only_what_is_not():
    assert printable("record /s/x.json is corrupt: 'a\nb'") == "record /s/x.json is corrupt: 'a\\nb'"
    assert printable("fine 'as' is \\ é") == "fine 'as' is \\ é"
