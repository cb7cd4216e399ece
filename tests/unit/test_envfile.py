import pytest

from daemonctl.errors import UsageError
from daemonctl.store.envfile import EnvFileError, load_env_file, parse


def test_plain_lines_comments_and_blanks():
    text = "# comment\n; also a comment\n\n  A=1\nB = two words  \nEMPTY=\n"
    assert parse(text) == {"A": "1", "B": "two words", "EMPTY": ""}


def test_quotes_like_systemd():
    text = (
        "S='single $x \\n'\n"
        'D="double \\"q\\" \\\\ \\$ \\n"\n'
        "M='multi\nline'\n"
        "U=un\\ quoted\\\\\n"
        "I=in'side\"quotes\n"
        'J="a" \'b\'c\n'
    )
    assert parse(text) == {
        "S": "single $x \\n",
        "D": 'double "q" \\ $ \\n',
        "M": "multi\nline",
        "U": "un quoted\\",
        "I": "in'side\"quotes",
        "J": "abc",
    }


def test_continuation_lines():
    assert parse("A=one \\\ntwo\nB=\"x\\\ny\"\n# c \\\nC=still comment\nD=4") == {"A": "one two", "B": "xy", "D": "4"}


@pytest.mark.parametrize("text,message", [
    ("A=1\nnot an assignment\n", "line 2: expected KEY=VALUE"),
    ("1A=x\n", "line 1: invalid variable name '1A'"),
    ("A=\"open\n", "line 1: unterminated double quote"),
    ("A=1\nB='open\n", "line 2: unterminated single quote"),
    ("A=\0\n", "NUL"),
])
def test_bad_files(text, message):
    with pytest.raises(EnvFileError, match=message):
        parse(text)


def test_load_reports_the_file(tmp_path):
    path = tmp_path / "env"
    path.write_bytes(b"A=\xff\n")
    with pytest.raises(UsageError, match="not UTF-8"):
        load_env_file(str(path))
    with pytest.raises(UsageError, match="No such file"):
        load_env_file(str(tmp_path / "missing"))


def test_syntax_errors_have_a_redacted_form():
    with pytest.raises(EnvFileError) as info:
        parse("A=1\nsecret-words\n")
    assert "secret-words" in str(info.value)
    assert info.value.redacted == "line 2: expected KEY=VALUE"
    with pytest.raises(EnvFileError) as info:
        parse("bad-name=1\n")
    assert info.value.redacted == "line 1: invalid variable name"


def test_special_files_are_not_read(tmp_path):
    with pytest.raises(Exception, match="character device") as info:
        load_env_file("/dev/zero")
    assert info.value.exit_code == 4
    with pytest.raises(UsageError, match="directory"):
        load_env_file(str(tmp_path))
