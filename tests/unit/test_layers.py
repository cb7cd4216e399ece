"""The layers of the package: proc/, store/ and supervise/ never import Click (nor the CLI).

Every import statement of every module under them is walked, also the ones inside
functions, and followed through the daemonctl modules it names: a core module that
imports a top-level module which imports Click breaks the rule as much as one that
imports Click itself.
"""

import ast
from pathlib import Path

import daemonctl

ROOT = Path(daemonctl.__file__).parent
CORE = ("proc", "store", "supervise")
FORBIDDEN = ("click", "daemonctl.cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, name: str | None = None) -> set[str]:
    """Every module an `import` or `from ... import` anywhere in `path` names (relative ones resolved)."""
    name = name or module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return found


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}


def reachable(start: str) -> dict[str, str]:
    """Every module reachable from `start` by import statements: {module: the module that imports it}."""
    seen = {start: ""}
    todo = [start]
    while todo:
        current = todo.pop()
        for name in imports(MODULES[current]):
            if name in seen:
                continue
            if name in MODULES:
                seen[name] = current
                todo.append(name)
            elif not name.startswith("daemonctl"):
                seen[name] = current
    return seen


def chain(seen: dict[str, str], name: str) -> str:
    links = [name]
    while seen[links[-1]]:
        links.append(seen[links[-1]])
    return " <- ".join(links)


def core_modules() -> list[str]:
    return sorted(m for m in MODULES if m.split(".")[1:2] and m.split(".")[1] in CORE)


def test_the_core_packages_exist_and_are_walked() -> None:
    found = core_modules()
    for package in CORE:
        assert f"daemonctl.{package}" in found
    assert "daemonctl.supervise.resident" in found and "daemonctl.store.record" in found


def test_proc_store_and_supervise_never_import_click() -> None:
    bad = []
    for module in core_modules():
        seen = reachable(module)
        bad += [chain(seen, name) for name in seen if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)]
    assert bad == []


def test_the_walk_sees_imports_inside_functions(tmp_path: Path) -> None:
    source = tmp_path / "probe.py"
    source.write_text("def f():\n    if True:\n        import click\n        from ..cli import commands\n")
    assert {"click", "daemonctl.cli", "daemonctl.cli.commands"} <= imports(source, "daemonctl.store.probe")


def test_the_walk_follows_the_cli_to_click() -> None:
    seen = reachable("daemonctl.cli.commands")
    assert "click" in seen and "daemonctl.cli.params" in seen


SERVER = ("http.server", "socketserver", "daemonctl.serve")


def test_serve_never_imports_click() -> None:
    """The server is a program of its own beside the CLI: no Click, and no CLI, in any module of it."""
    modules = sorted(m for m in MODULES if m.startswith("daemonctl.serve"))
    assert "daemonctl.serve.server" in modules and "daemonctl.serve.worker" in modules
    bad = []
    for module in modules:
        seen = reachable(module)
        bad += [chain(seen, name) for name in seen if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)]
    assert bad == []


def test_the_operations_never_reach_the_server() -> None:
    """start, stop and status (and what they import, inside functions too) never load the server's modules."""
    bad = []
    for module in ("daemonctl.start", "daemonctl.stop", "daemonctl.status", "daemonctl.reconcile"):
        seen = reachable(module)
        bad += [chain(seen, name) for name in seen if any(name == f or name.startswith(f + ".") for f in SERVER)]
    assert bad == []
