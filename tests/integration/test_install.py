"""`make install` and `make uninstall` with Debian's system Python and with a pyenv Python
(issue 11, defect 7): a venv of daemonctl's own under PREFIX/lib/daemonctl, a symlink in
PREFIX/bin, the man page and the completions where man and the shells look, and nothing
installed into the Python that made the venv."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import SLEEP, Dctl, assert_ok, wait_gone

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SHARED = {
    "share/man/man1/daemonctl.1": "man/daemonctl.1",
    "share/bash-completion/completions/daemonctl": "completions/daemonctl.bash",
    "share/zsh/site-functions/_daemonctl": "completions/_daemonctl",
    "share/fish/vendor_completions.d/daemonctl.fish": "completions/daemonctl.fish",
}


def system_python() -> str:
    if not os.access("/usr/bin/python3", os.X_OK):
        pytest.skip("no /usr/bin/python3: this is not a Debian-like system")
    return "/usr/bin/python3"


def pyenv_python() -> str:
    """A Python 3.11+ that is not the system's: the one this project's .venv was made from."""
    base = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    if not base.startswith("/usr/bin/"):
        return base
    found = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[1-9]*/bin/python3")))
    if not found:
        pytest.skip("no Python 3.11+ here other than the system's (no pyenv)")
    return found[-1]


def make(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "PYTHON", "VIRTUAL_ENV"))}
    return subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("which", ["system-python", "pyenv-python"])
def test_make_install_gives_a_working_daemonctl_and_uninstall_removes_it(dctl, tmp_path, which):
    python = system_python() if which == "system-python" else pyenv_python()
    prefix = tmp_path / "prefix"
    cp = make("install", f"PREFIX={prefix}", f"PYTHON={python}")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    exe = prefix / "bin" / "daemonctl"
    assert exe.is_symlink() and os.readlink(exe) == str(prefix / "lib/daemonctl/bin/daemonctl")
    venv_python = prefix / "lib/daemonctl/bin/python"
    assert os.path.realpath(venv_python) == os.path.realpath(python)

    # Nothing went into the Python that made the venv (Debian's is externally managed).
    probe = subprocess.run([python, "-c", "import daemonctl"], cwd=tmp_path, capture_output=True, text=True,
                           env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, timeout=60)
    assert probe.returncode != 0 and "No module named 'daemonctl'" in probe.stderr

    version = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("daemonctl, version "), version

    installed = Dctl(str(exe), dctl.state_dir, dctl.token, dctl.tracked)
    pid = installed.start("nap", SLEEP, "300")
    assert_ok(installed("status", "nap"))
    assert_ok(installed("stop", "nap"))
    assert wait_gone(pid)

    for target, source in SHARED.items():
        assert (prefix / target).read_bytes() == (ROOT / source).read_bytes(), target
    if shutil.which("man"):
        page = subprocess.run(["man", "-M", str(prefix / "share/man"), "-w", "daemonctl"],
                              capture_output=True, text=True, timeout=60)
        assert page.stdout.strip() == str(prefix / "share/man/man1/daemonctl.1"), page.stderr
    assert_shells_find_the_completions(prefix)

    if which == "system-python":  # installing again (an upgrade) replaces the venv in place
        cp = make("install", f"PREFIX={prefix}", f"PYTHON={python}")
        assert cp.returncode == 0, cp.stdout + cp.stderr
        assert subprocess.run([exe, "--version"], capture_output=True, timeout=60).returncode == 0

    cp = make("uninstall", f"PREFIX={prefix}")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    left = [str(p.relative_to(prefix)) for p in prefix.rglob("*") if not p.is_dir()]
    assert left == [] and not (prefix / "lib/daemonctl").exists() and not os.path.lexists(exe)


def assert_shells_find_the_completions(prefix: Path, home: Path | None = None) -> None:
    """Each shell, told only where daemonctl is, loads the installed script and completes."""
    # bash-completion and fish look under each of XDG_DATA_DIRS (default /usr/local/share:/usr/share
    # for bash-completion, /usr/share for Debian's fish) and under ~/.local/share.
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env.update(PATH=f"{prefix / 'bin'}:{os.environ['PATH']}", HOME=str(home or prefix))
    if home is None:
        env["XDG_DATA_DIRS"] = f"{prefix / 'share'}:/usr/share"
    loader = "/usr/share/bash-completion/bash_completion"
    if os.path.exists(loader):
        cp = subprocess.run(["bash", "--norc", "-c", f"source {loader}; __load_completion daemonctl && complete -p daemonctl"],
                            env=env, capture_output=True, text=True, timeout=60)
        assert "_daemonctl_completion daemonctl" in cp.stdout, cp.stdout + cp.stderr
    if shutil.which("fish"):
        cp = subprocess.run(["fish", "-c", "complete -C 'daemonctl sta'"], env=env,
                            capture_output=True, text=True, timeout=60)
        assert [ln.split("\t")[0] for ln in cp.stdout.splitlines()] == ["start", "status"], cp.stdout + cp.stderr
    if shutil.which("zsh"):
        cp = subprocess.run(["zsh", "-f", "-c", f"fpath=({prefix / 'share/zsh/site-functions'} $fpath); "
                             "autoload -Uz compinit && compinit -u -D && print -r -- $_comps[daemonctl]"],
                            env=env, capture_output=True, text=True, timeout=60)
        assert cp.stdout.strip() == "_daemonctl", cp.stdout + cp.stderr


def test_prefix_defaults_to_usr_local_for_root_and_home_local_for_others(tmp_path):
    dry = make("-n", "install", "PYTHON=python3")
    expected = "/usr/local" if os.geteuid() == 0 else os.path.expanduser("~/.local")
    assert f'-m venv --clear "{expected}/lib/daemonctl"' in dry.stdout, dry.stdout + dry.stderr
    if os.geteuid() == 0 and shutil.which("setpriv"):
        as_user = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                  "make", "--no-print-directory", "-C", str(ROOT), "-n", "install", f"HOME={tmp_path}/h"],
                                 capture_output=True, text=True, timeout=60)
        if as_user.returncode == 0:
            assert f'-m venv --clear "{tmp_path}/h/.local/lib/daemonctl"' in as_user.stdout, as_user.stdout
    bad = make("install", "PREFIX=relative/dir")
    assert bad.returncode != 0 and "PREFIX must be an absolute path" in bad.stderr


@pytest.fixture
def nobody_home():
    """A home directory for user nobody, where nobody can reach it (pytest's tmp_path is 0700)."""
    import tempfile
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to act as another user")
    home = Path(tempfile.mkdtemp(prefix="dctl-home-"))
    try:
        os.chown(home, 65534, 65534)
        home.chmod(0o755)
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_a_user_install_goes_under_home_local_without_root(nobody_home, nobody_checkout):
    """`make install` by a user other than root: PREFIX is ~/.local, no sudo, nothing else touched.

    From a copy of the checkout: nobody may not be able to read the checkout itself (a clone
    under `mktemp -d` is mode 0700)."""
    python = system_python()
    home = nobody_home
    as_user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "env", "-i",
               "PATH=/usr/bin:/bin", f"HOME={home}"]
    cp = subprocess.run(as_user + ["make", "--no-print-directory", "-C", str(nobody_checkout), "install", f"PYTHON={python}"],
                        capture_output=True, text=True, timeout=600)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    exe = home / ".local/bin/daemonctl"
    assert os.readlink(exe) == str(home / ".local/lib/daemonctl/bin/daemonctl")
    version = subprocess.run(as_user + [str(exe), "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("daemonctl, version"), version.stderr
    if shutil.which("man"):
        # man-db looks beside every bin on PATH: ~/.local/bin -> ~/.local/share/man.
        page = subprocess.run(as_user[:-2] + [f"PATH={exe.parent}:/usr/bin:/bin", f"HOME={home}", "man", "-w", "daemonctl"],
                              capture_output=True, text=True, timeout=60)
        assert page.stdout.strip() == str(home / ".local/share/man/man1/daemonctl.1"), page.stderr
    assert_shells_find_the_completions(home / ".local", home=home)  # from HOME alone
    cp = subprocess.run(as_user + ["make", "--no-print-directory", "-C", str(nobody_checkout), "uninstall"],
                        capture_output=True, text=True, timeout=120)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert not os.path.lexists(exe) and not (home / ".local/lib/daemonctl").exists()
    assert [p for p in (home / ".local").rglob("*") if not p.is_dir()] == []
