"""The supervisor's reopen of the logs before every run: by safeopen's rules, and a refusal is one line."""

import os

import pytest

from daemonctl.supervise.resident import Spec, open_logs


def spec(stdout: str, stderr: str) -> Spec:
    return Spec({
        "executable": "/bin/true", "command": ["true"], "chdir": "/", "umask": "22",
        "stdout": stdout, "stderr": stderr, "respawn": "on-failure", "restart_delay": 1,
        "restart_delay_max": 60, "min_uptime": 10, "max_restarts": 10,
    })


def test_reopen_appends_to_regular_files(tmp_path):
    out, err = open_logs(spec(str(tmp_path / "out.log"), str(tmp_path / "err.log")), None)
    try:
        assert os.get_blocking(out) and out != err
    finally:
        os.close(out)
        os.close(err)


@pytest.mark.parametrize("which", ["stdout", "stderr"])
def test_refused_reopen_is_one_line_and_an_oserror(tmp_path, capfd, which):
    link = tmp_path / "planted.log"
    link.symlink_to(tmp_path / "target")
    good = str(tmp_path / "good.log")
    paths = (str(link), good) if which == "stdout" else (good, str(link))
    before = set(os.listdir("/proc/self/fd"))
    with pytest.raises(OSError):
        open_logs(spec(*paths), None)
    assert set(os.listdir("/proc/self/fd")) == before  # the stdout log opened first is closed again
    lines = capfd.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("daemonctl: ") and "symbolic link" in lines[0]
    assert not (tmp_path / "target").exists()
