"""Modules that define typing.NamedTuple classes keep their annotations evaluated.

With `from __future__ import annotations` every field's annotation is a string,
and typing.NamedTuple compiles each one into a ForwardRef when the class is
created: about 4 M instructions for the classes a `start` imports (see
benchmarks/instructions.py). A self-reference inside such a class is quoted instead.
"""

import ast
from pathlib import Path

import daemonctl

SOURCES = sorted(Path(daemonctl.__file__).parent.rglob("*.py"))


def defines_namedtuple(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.ClassDef) and any(isinstance(b, ast.Name) and b.id == "NamedTuple" for b in node.bases)
        for node in tree.body
    )


def defers_annotations(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.ImportFrom) and node.module == "__future__" and any(a.name == "annotations" for a in node.names)
        for node in tree.body
    )


def test_the_check_sees_both_things_it_looks_for():
    tree = ast.parse("from __future__ import annotations\nfrom typing import NamedTuple\nclass A(NamedTuple):\n    x: int\n")
    assert defines_namedtuple(tree) and defers_annotations(tree)
    assert not defines_namedtuple(ast.parse("class A:\n    x: int\n"))


def test_no_namedtuple_module_defers_its_annotations():
    assert SOURCES, "no sources found"
    offenders = [p.name for p in SOURCES if defines_namedtuple(t := ast.parse(p.read_text())) and defers_annotations(t)]
    assert offenders == []
