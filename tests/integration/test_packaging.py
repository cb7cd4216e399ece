"""The wheel carries the man page and the completions to where man and the shells look."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DATA = {
    "share/man/man1/daemonctl.1": "man/daemonctl.1",
    "share/bash-completion/completions/daemonctl": "completions/daemonctl.bash",
    "share/zsh/site-functions/_daemonctl": "completions/_daemonctl",
    "share/fish/vendor_completions.d/daemonctl.fish": "completions/daemonctl.fish",
}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    (path,) = out.glob("daemonctl-*.whl")
    return path


def test_wheel_holds_the_man_page_and_completions(wheel):
    with zipfile.ZipFile(wheel) as zf:
        data = {n.split(".data/data/", 1)[1]: n for n in zf.namelist() if ".data/data/" in n}
        assert set(data) == set(DATA)
        for target, source in DATA.items():
            assert zf.read(data[target]) == (ROOT / source).read_bytes(), target


def test_wheel_holds_the_dashboard(wheel):
    """`serve`'s page and assets are package data: a wheel without them serves no dashboard."""
    static = ROOT / "src" / "daemonctl" / "serve" / "static"
    with zipfile.ZipFile(wheel) as zf:
        for asset in sorted(static.iterdir()):
            assert zf.read(f"daemonctl/serve/static/{asset.name}") == asset.read_bytes(), asset.name


def test_installed_under_a_prefix_man_finds_the_page(wheel, tmp_path):
    # --ignore-installed: never uninstall the daemonctl the other tests run.
    prefix = tmp_path / "prefix"
    subprocess.run([sys.executable, "-m", "pip", "install", "--ignore-installed", "--no-deps", "--no-index", "-q",
                    "--prefix", str(prefix), str(wheel)], check=True, capture_output=True, timeout=300)
    for target in DATA:
        assert (prefix / target).is_file(), target
    assert (prefix / "bin" / "daemonctl").is_file()
    if shutil.which("man") is None:
        pytest.skip("man is not installed")
    # man-db finds PREFIX/share/man from PREFIX/bin on PATH, as for ~/.local after `make install`.
    env = {**os.environ, "PATH": f"{prefix / 'bin'}:{os.environ['PATH']}"}
    env.pop("MANPATH", None)
    cp = subprocess.run(["man", "-w", "daemonctl"], env=env, capture_output=True, text=True, timeout=60)
    assert cp.stdout.strip() == str(prefix / "share/man/man1/daemonctl.1"), cp.stderr
