import configparser
import shlex

import pytest

from daemonctl.quoting import Unquotable, supervisor_env, supervisor_word, systemd_env, systemd_exec, systemd_word


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
