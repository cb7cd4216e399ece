"""Every NamedTuple class of the package is made by speedups' NamedTuple (trick 5), not typing's.

typing.NamedTuple compiles a `__new__` with eval and checks every annotation (a
string to compile into a ForwardRef when annotations are deferred): about 0.6 M
instructions for each of the 26 classes a `start` makes (see daemonctl/speedups.py).
"""

import ast
from pathlib import Path

import daemonctl

SOURCES = sorted(Path(daemonctl.__file__).parent.rglob("*.py"))


def typing_namedtuple(tree: ast.Module) -> bool:
    """Does the module take NamedTuple from typing (`from typing import NamedTuple`, or `typing.NamedTuple`)?"""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "typing" and any(a.name == "NamedTuple" for a in node.names):
            return not _under_type_checking(tree, node)
        if isinstance(node, ast.Attribute) and node.attr == "NamedTuple" and isinstance(node.value, ast.Name):
            if node.value.id in ("typing", "t"):
                return True
    return False


def _under_type_checking(tree: ast.Module, target: ast.AST) -> bool:
    return any(
        isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
        and any(child is target for stmt in node.body for child in ast.walk(stmt))
        for node in ast.walk(tree)
    )


def test_the_check_sees_what_it_looks_for() -> None:
    assert typing_namedtuple(ast.parse("from typing import Any, NamedTuple\nclass A(NamedTuple):\n    x: int\n"))
    assert typing_namedtuple(ast.parse("import typing\nclass A(typing.NamedTuple):\n    x: int\n"))
    assert not typing_namedtuple(ast.parse("from daemonctl.speedups import NamedTuple\n"))
    assert not typing_namedtuple(ast.parse("if TYPE_CHECKING:\n    from typing import NamedTuple as NamedTuple\n"))


def test_no_module_makes_its_namedtuples_with_typing() -> None:
    assert len(SOURCES) > 50, "sources not found"
    offenders = [str(p) for p in SOURCES if typing_namedtuple(ast.parse(p.read_text()))]
    assert offenders == []
