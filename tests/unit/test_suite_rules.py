"""The rules of tests/conftest.py: in CI as root a skip fails, unless ALLOWED_SKIPS names the
test; and every phase of a test has a time limit."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).resolve().parent.parent / "conftest.py"
SKIPPING = '''
import pytest

def test_needs_something_missing():
    pytest.skip("needs root and setpriv")

@pytest.fixture
def missing_tool():
    pytest.skip("no such tool")

def test_skipped_by_a_fixture(missing_tool):
    pass

def test_inside_namespace_stopped_daemon_is_zombie_and_stop_returns_0():
    pytest.skip("only meaningful inside the PID namespace re-run")
'''


HANGING = '''
import time
import pytest

@pytest.mark.timeout(0.5)
def test_that_hangs():
    time.sleep(60)

@pytest.fixture
def hanging_fixture():
    time.sleep(60)

@pytest.mark.timeout(0.5)
def test_with_a_hanging_fixture(hanging_fixture):
    pass

@pytest.fixture
def hanging_teardown():
    yield
    time.sleep(60)

@pytest.mark.timeout(0.5)
def test_with_a_hanging_teardown(hanging_teardown):
    pass

@pytest.mark.timeout(30)
def test_within_its_limit():
    time.sleep(0.6)
'''


def run(tmp_path: Path, ci: str | None, tests: str = SKIPPING) -> str:
    shutil.copy(CONFTEST, tmp_path / "conftest.py")
    (tmp_path / "test_skipping.py").write_text(tests)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    cp = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", str(tmp_path)],
                        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    return cp.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="the rule is for CI runs as root")
def test_in_ci_as_root_a_skip_fails_unless_allowed(tmp_path):
    out = run(tmp_path, "true")
    # A skip in the test is a failure; in a fixture, an error of the setup: the run fails both ways.
    assert "1 failed, 1 skipped, 1 error" in out, out
    assert "FAILED test_skipping.py::test_needs_something_missing" in out
    assert "ERROR test_skipping.py::test_skipped_by_a_fixture" in out
    assert "skipped in CI as root (Skipped: needs root and setpriv)" in out
    assert "PASSED" not in out


def test_outside_ci_a_skip_is_a_skip(tmp_path):
    out = run(tmp_path, None)
    assert "3 skipped" in out and "failed" not in out, out


def test_each_phase_of_a_test_has_a_time_limit(tmp_path):
    out = run(tmp_path, None, HANGING)
    assert "1 failed, 2 passed, 2 errors" in out, out  # the hanging teardown's test passed
    for test, phase in [("test_that_hangs", "call"), ("test_with_a_hanging_fixture", "setup"),
                        ("test_with_a_hanging_teardown", "teardown")]:
        assert f"test_skipping.py::{test} ran longer than its limit of 0.5s ({phase})" in out, out
