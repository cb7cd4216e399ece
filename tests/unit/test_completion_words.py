"""The wire format between the shipped completion scripts and daemonctl (daemonctl.cli.completion)."""

import pytest

from daemonctl.cli.commands import cli
from daemonctl.cli.completion import WordsComplete, unquote


def answer(monkeypatch, words, incomplete, quoted=False):
    monkeypatch.setenv("DAEMONCTL_COMP_WORDS", "\n".join(words))
    monkeypatch.setenv("DAEMONCTL_COMP_INCOMPLETE", incomplete)
    if quoted:
        monkeypatch.setenv("DAEMONCTL_COMP_QUOTED", "1")
    else:
        monkeypatch.delenv("DAEMONCTL_COMP_QUOTED", raising=False)
    out = WordsComplete(cli, {}, "daemonctl", "_DAEMONCTL_COMPLETE").complete()
    return [line.split("\t") for line in out.splitlines()]


def test_one_line_per_candidate_type_value_help(monkeypatch):
    rows = answer(monkeypatch, ["start"], "--ready-f")
    assert rows == [["plain", "--ready-file", "Ready once PATH exists."]]
    assert [r[:2] for r in answer(monkeypatch, [], "sta")] == [["plain", "start"], ["plain", "status"]]
    assert all(len(r) == 3 for r in answer(monkeypatch, ["signal", "web"], ""))


def test_words_as_typed_are_unquoted_only_when_the_script_says_so(monkeypatch, tmp_path):
    (tmp_path / "a b").mkdir()
    (tmp_path / "a b" / "web.json").write_text("{}")
    typed = ["--state-dir", f"'{tmp_path}/a b'", "stop"]
    assert [r[1] for r in answer(monkeypatch, typed, "", quoted=True)] == ["web"]
    assert answer(monkeypatch, typed, "") == []  # a directory named with the quotes: none


@pytest.mark.parametrize("typed, word", [("'a b'", "a b"), ('"a b"', "a b"), ("a\\ b", "a b"), ("'open", "open"),
                                         ('"open', "open"), ("plain", "plain"), ("", ""), ("a b", "a b")])
def test_unquote(typed, word):
    assert unquote(typed) == word


def test_tabs_and_line_breaks_never_split_a_candidate(monkeypatch):
    from click.shell_completion import CompletionItem

    shell = WordsComplete(cli, {}, "daemonctl", "_DAEMONCTL_COMPLETE")
    assert shell.format_completion(CompletionItem("a\tb", help="x\ny")) == "plain\ta b\tx y"


def test_limit_completes_the_resources_with_their_equals_sign(monkeypatch):
    assert [r[1] for r in answer(monkeypatch, ["start", "--limit"], "n")] == ["nofile=", "nproc=", "nice="]
    assert [r[1] for r in answer(monkeypatch, ["start", "--limit"], "")][:3] == ["nofile=", "nproc=", "core="]
