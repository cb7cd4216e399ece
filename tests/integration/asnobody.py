"""Running daemonctl as user nobody, from any checkout.

A checkout may sit where nobody cannot go (a clone under `mktemp -d` is mode 0700,
a venv's interpreter may live under /root), and then every test that runs daemonctl
as another user used to skip, silently. Instead, once per session, this module puts
a copy of what daemonctl needs where nobody can read it: a venv of its own in a
fresh 0755 directory under /tmp, holding a copy of the package under test and of
its dependencies, and a `daemonctl` console script. The venv is built on an
interpreter nobody can run whole (the one running the tests if nobody can reach
its prefix, else the system's python3 of the same minor version: the dependencies
may have compiled parts). `python -m daemonctl.supervise.resident`, which daemonctl runs
with its own interpreter, finds the copy too.

The fixture `nobody_daemonctl` gives the script's path; it skips (a failure in CI,
see tests/conftest.py) only when no root, no setpriv, or no usable interpreter.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
PACKAGES = ("daemonctl", "click")  # the package under test and its dependency
SYSTEM_PYTHON = "/usr/bin/python3"


def _prefix_seen(python: str, prefix: list[str]) -> str | None:
    """sys.base_prefix and version as PYTHON reports them when run with `prefix` (None: it cannot run)."""
    try:
        cp = subprocess.run(prefix + [python, "-I", "-c", "import sys; print(sys.base_prefix, sys.version_info[:2])"],
                            capture_output=True, text=True, timeout=60, cwd="/")
    except (OSError, subprocess.TimeoutExpired):
        return None
    return cp.stdout.strip() if cp.returncode == 0 else None


def usable_interpreter() -> str | None:
    """An interpreter of our minor version that nobody runs with its whole standard library.

    An interpreter run from a prefix nobody cannot read may still start (with another
    Python's library found on the way): the prefix it reports then differs from root's.
    """
    ours = os.path.realpath(sys._base_executable if hasattr(sys, "_base_executable") else sys.executable)
    for python in dict.fromkeys([ours, SYSTEM_PYTHON]):
        if not os.access(python, os.X_OK):
            continue
        as_root = _prefix_seen(python, [])
        if as_root is None or not as_root.endswith(str(tuple(sys.version_info[:2]))):
            continue
        if _prefix_seen(python, NOBODY) == as_root:
            return python
    return None


def build(python: str, where: Path) -> Path:
    """A venv at `where` on PYTHON with copies of PACKAGES; the path of its daemonctl script."""
    subprocess.run([python, "-m", "venv", "--without-pip", str(where)], check=True, capture_output=True, timeout=120)
    site = Path(subprocess.run(
        [str(where / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True, timeout=60).stdout.strip())
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.submodule_search_locations, f"{name} is not installed as a package"
        source = Path(list(spec.submodule_search_locations)[0])
        shutil.copytree(source, site / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    script = where / "bin" / "daemonctl"
    script.write_text(f"#!{where / 'bin' / 'python'}\n"
                      "import sys\nfrom daemonctl.__main__ import main\nsys.exit(main())\n")
    script.chmod(0o755)
    for path in [where, *where.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644)
    return script


# What a copy of the checkout leaves out: built or private things, none of them sources.
NOT_SOURCES = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache",
                                     ".ruff_cache", "build", "dist", "*.egg-info")


@pytest.fixture(scope="session")
def nobody_checkout() -> Iterator[Path]:
    """A copy of the checkout (its sources) that user nobody can read, whatever the checkout's location."""
    if os.geteuid() != 0:
        pytest.skip("needs root to give user nobody a copy of the checkout")
    top = Path(tempfile.mkdtemp(prefix="dctl-checkout-", dir="/tmp"))
    try:
        top.chmod(0o755)
        shutil.copytree(Path(__file__).resolve().parents[2], top / "checkout", symlinks=True, ignore=NOT_SOURCES)
        for path in [top, *top.rglob("*")]:
            if not path.is_symlink():
                path.chmod(0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644)
        yield top / "checkout"
    finally:
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture(scope="session")
def nobody_daemonctl() -> Iterator[str]:
    """The path of a daemonctl that user nobody can run, whatever the checkout's location."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run daemonctl as another user")
    python = usable_interpreter()
    if python is None:
        pytest.skip(f"no python{sysconfig.get_python_version()} that user nobody can run whole")
    top = Path(tempfile.mkdtemp(prefix="dctl-nobody-", dir="/tmp"))
    try:
        top.chmod(0o755)
        script = build(python, top / "venv")
        for argv in ([str(script.parent / "python"), "-c", "import " + ", ".join(PACKAGES)], [str(script), "--version"]):
            probe = subprocess.run(NOBODY + argv, capture_output=True, text=True, timeout=60, cwd="/")
            assert probe.returncode == 0, f"the copy for nobody does not run: {probe.stderr.strip()[-300:]}"
        yield str(script)
    finally:
        shutil.rmtree(top, ignore_errors=True)
