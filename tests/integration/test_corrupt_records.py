"""Issue 10 #5, issue 11 #1, contract "Trust": a bad record, every command, each run as a fresh process.

As users and init scripts run daemonctl: a new interpreter per command, so nothing a
test imported (the json package, above all) changes what daemonctl does. For each bad
record: `status NAME` exits 4, every other command 1, each with one error line naming
the record and no traceback; the listing (plain and --json) still shows the healthy
daemon beside it, the bad one as unknown; `remove NAME` forgets it.
"""
import json
import os
import random
import subprocess
import time

import pytest

from .helpers import PY, SLEEP, alive, assert_ok, assert_one_error, error_lines, wait_gone

pytestmark = pytest.mark.integration

BAD, GOOD = "bad", "good"
# Every case runs `status NAME`, `status --json` and `remove NAME`, and between them one of these
# in turn: the plain listing, or commands that must exit 1.
OTHERS = [
    [("start", "-n", BAD)], [("stop", BAD)], [("status",)], [("signal", BAD, "HUP")], [("restart", BAD)],
    [("start", "-n", BAD, SLEEP, "1"), ("logs", BAD)], [("export", "systemd", BAD), ("stop", BAD)],
]


@pytest.fixture(scope="module")
def real_record(tmp_path_factory, daemonctl_exe):
    """A record daemonctl wrote for a real daemon with most options set, then stopped; and a healthy one."""
    from .helpers import base_env

    state = tmp_path_factory.mktemp("template")
    env = base_env()

    def dc(*args):
        return subprocess.run([daemonctl_exe, "--state-dir", str(state), "-q", *args], capture_output=True,
                              text=True, env=env, stdin=subprocess.DEVNULL, timeout=60)

    ready = state / "ready"
    cp = dc("start", "-n", BAD, "--env", "K=v\u00e9", "--umask", "027", "--nice", "3", "--wait", "0.1", "-d", str(state),
            "--ready-file", str(ready), "--ready-timeout", "20", "--respawn", "--restart-delay", "0.5",
            "--", PY, "-c", "import pathlib, sys, time; pathlib.Path(sys.argv[1]).touch(); time.sleep(300)", str(ready))
    assert_ok(cp)
    assert_ok(dc("stop", BAD))
    assert_ok(dc("start", "-n", GOOD, SLEEP, "300"))
    assert_ok(dc("stop", GOOD))
    data = json.loads((state / f"{BAD}.json").read_text())
    assert data["state"] == "stopped" and data["supervisor_pid"] and data["respawn"] == "on-failure"
    data["last_exit"] = {"signal": 15, "at": data["started_at"]}  # as the supervisor writes it
    data["ready_log"], data["ready_port"] = "^ready( on \\d+)?$", "127.0.0.1:8080"
    raw = (json.dumps(data) + "\n").encode()
    return raw, (state / f"{GOOD}.json").read_bytes()


def run_case(dctl, content, expect_in_error: str | None = None, make=None, index: int = 0):
    """Put `content` (bytes) as NAME's record beside a healthy one, and run the commands on it."""
    dctl.state_dir.mkdir(mode=0o700, exist_ok=True)
    (dctl.state_dir / f"{GOOD}.json").write_bytes(dctl.good_record)
    path = dctl.recordfile(BAD)
    if make is not None:
        make(path)
    else:
        path.write_bytes(content)
    try:
        _run_commands(dctl, path, expect_in_error, index)
    finally:
        if os.path.lexists(path) and not path.is_file():
            (os.rmdir if path.is_dir() and not path.is_symlink() else os.unlink)(path)


def _run_commands(dctl, path, expect_in_error, index):
    cp = dctl("status", BAD, timeout=20)
    assert_one_error(cp, 4)
    line = error_lines(cp.stderr)[0]
    assert f"record of {BAD} ({path})" in line, line
    if expect_in_error is not None:
        assert expect_in_error in line, line

    listing = dctl("status", "--json", timeout=20)
    assert_ok(listing)
    states = {d["name"]: d["state"] for d in json.loads(listing.stdout)}
    assert states == {GOOD: "stopped", BAD: "unknown"}, listing.stdout

    for args in OTHERS[index % len(OTHERS)]:
        if args == ("status",):
            table = dctl("status", timeout=20)
            assert_ok(table)
            rows = {ln.split()[0]: ln.split()[1] for ln in table.stdout.splitlines()[1:]}
            assert rows == {GOOD: "stopped", BAD: "unknown"}, table.stdout
        else:
            assert_one_error(dctl(*args, timeout=20), 1)

    assert_ok(dctl("remove", BAD, timeout=20))
    assert not os.path.lexists(path) and not dctl.pidfile(BAD).exists()


def run_cases(dctl, cases) -> None:
    """Each (id, content, expected text) in a state directory of its own, four at a time."""
    from concurrent.futures import ThreadPoolExecutor

    def one(i, case):
        view = dctl.with_state_dir(dctl.state_dir.parent / f"state-{i}")
        view.good_record = dctl.good_record
        try:
            run_case(view, *case[1:], index=i)
        except BaseException as err:  # every case reports, not only the first
            return f"{case[0]}: {err}"
        return None

    with ThreadPoolExecutor(4) as pool:
        failures = [f for f in pool.map(one, range(len(cases)), cases) if f]
    assert not failures, f"{len(failures)} of {len(cases)} cases failed:\n" + "\n\n".join(failures)


@pytest.fixture
def case(dctl, real_record):
    dctl.good_record = real_record[1]
    return dctl


def _cut_points(raw: bytes) -> list[int]:
    """A fixed sample of places to cut a record short: spread over it, and at every kind of token."""
    whole = len(raw.rstrip())  # cut at or after the closing brace, the record is whole
    rng = random.Random(5)
    points = set(rng.sample(range(1, whole), 16)) | {0, 1, whole - 1}
    for token in (b'": ', b", ", b'"', b"\\", b"[", b"{", b"null", b"0."):
        at = raw.find(token, rng.randrange(whole // 2))
        if 0 < at < whole - 1:
            points |= {at, at + 1}
    return sorted(points)


def test_a_record_cut_short_anywhere(case, real_record):
    """728 of 840 cut points gave `_json`'s SystemError traceback; every one must give one line."""
    raw = real_record[0]
    run_cases(case, [(f"cut at {n}", raw[:n], "is corrupt") for n in _cut_points(raw)])


def _edit(raw: bytes, **changes) -> bytes:
    data = json.loads(raw)
    data.update(changes)
    return json.dumps(data).encode()


def _raw_value(raw: bytes, key: str, text: str) -> bytes:
    """The record with `key` set to the JSON text `text`, written as it is (1e999, NaN, 5000 digits)."""
    data = json.loads(raw)
    data[key] = "@@"
    return json.dumps(data).replace('"@@"', text).encode()


CASES = [
    # (id, how the record is made from the real one, what the error line names)
    ("wait-string", lambda r: _edit(r, wait="x"), "field wait"),
    ("wait-1e999", lambda r: _raw_value(r, "wait", "1e999"), "field wait"),
    ("wait-negative", lambda r: _edit(r, wait=-1), "field wait"),
    ("wait-NaN", lambda r: _raw_value(r, "wait", "NaN"), "not valid JSON"),
    ("ready-port-int", lambda r: _edit(r, ready_port=80), "field ready_port"),
    ("ready-port-range", lambda r: _edit(r, ready_port="host:70000"), "field ready_port"),
    ("ready-log-regex", lambda r: _edit(r, ready_log="("), "field ready_log"),
    ("ready-timeout-zero", lambda r: _edit(r, ready_timeout=0), "field ready_timeout"),
    ("supervisor-pid-2**31", lambda r: _edit(r, supervisor_pid=2**31), "field supervisor_pid"),
    ("pid-2**64", lambda r: _edit(r, pid=2**64), "field pid"),
    ("pid-1", lambda r: _edit(r, pid=1), "field pid"),
    ("pid-bool", lambda r: _edit(r, pid=True), "field pid"),
    ("starttime-2**63", lambda r: _edit(r, starttime=2**63), "field starttime"),
    ("starttime-float", lambda r: _edit(r, starttime=1.5), "field starttime"),
    ("huge-integer", lambda r: _raw_value(r, "restarts", "9" * 5000), "not valid JSON"),
    ("restarts-negative", lambda r: _edit(r, restarts=-1), "field restarts"),
    ("max-restarts-2**40", lambda r: _edit(r, max_restarts=2**40), "field max_restarts"),
    ("state-unknown", lambda r: _edit(r, state="zombie"), "field state"),
    ("command-empty", lambda r: _edit(r, command=[]), "field command"),
    ("command-string", lambda r: _edit(r, command="sleep 1"), "field command"),
    ("command-number", lambda r: _edit(r, command=[1]), "field command"),
    ("env-value-number", lambda r: _edit(r, env={"K": 1}), "field env"),
    ("env-key-equals", lambda r: _edit(r, env={"A=B": "x"}), "field env"),
    ("env-list", lambda r: _edit(r, env=["K=v"]), "field env"),
    ("umask-not-octal", lambda r: _edit(r, umask="999"), "field umask"),
    ("umask-int", lambda r: _edit(r, umask=18), "field umask"),
    ("nice-40", lambda r: _edit(r, nice=40), "field nice"),
    ("notify-string", lambda r: _edit(r, notify="yes"), "field notify"),
    ("user-empty", lambda r: _edit(r, user=""), "field user"),
    ("respawn-unknown", lambda r: _edit(r, respawn="sometimes"), "field respawn"),
    ("last-exit-shape", lambda r: _edit(r, last_exit={"code": "x", "at": "now"}), "field last_exit"),
    ("last-exit-list", lambda r: _edit(r, last_exit=[1]), "field last_exit"),
    ("started-at-garbage", lambda r: _edit(r, started_at="yesterday"), "field started_at"),
    ("pidfile-relative", lambda r: _edit(r, pidfile="bad.pid"), "field pidfile"),
    ("stdout-NUL", lambda r: _edit(r, stdout="/tmp/a\0b"), "field stdout"),
    ("command-NUL", lambda r: _edit(r, command=["sleep", "1\0"]), "field command"),
    ("lone-surrogate-escaped", lambda r: _edit(r, command=["sleep", "\ud800"]), "field command"),
    ("lone-surrogate-raw", lambda r: r.replace(b'"name": "bad"', b'"name": "b\xed\xa0\x80d"'), "not UTF-8"),
    ("not-utf8", lambda r: r.replace(b'"bad"', b'"b\xffd"', 1), "not UTF-8"),
    ("deep-nesting", lambda r: r[:-2] + b', "env": ' + b"[" * 100000 + b"]" * 100000 + b"}", "is corrupt"),
    ("deep-nesting-unclosed", lambda r: b'{"name": "bad", "env": ' + b"{\"a\": " * 50000, "is corrupt"),
    ("nested-in-field", lambda r: _edit(r, last_exit={"code": 1, "at": [[["x"]]]}), "field last_exit"),
    ("unknown-field", lambda r: _edit(r, surprise={"a": 1}), "field 'surprise'"),
    ("other-name", lambda r: _edit(r, name="good"), "field name"),
    ("missing-command", lambda r: json.dumps({k: v for k, v in json.loads(r).items() if k != "command"}).encode(),
     "field command is missing"),
    ("format-2", lambda r: _edit(r, format=2), "field format"),
    ("array", lambda r: b"[" + r + b"]", "not a JSON object"),
    ("empty", lambda r: b"", "not valid JSON"),
    ("huge-file", lambda r: r.rstrip() + b" " * (9 << 20), "larger than"),
]


def test_records_of_the_wrong_shape(case, real_record):
    run_cases(case, [(name, make(real_record[0]), expect) for name, make, expect in CASES])


def test_the_real_record_is_accepted(case, real_record):
    """The cases above differ from a record daemonctl accepts only by what they break."""
    case.state_dir.mkdir(mode=0o700, exist_ok=True)
    (case.state_dir / f"{GOOD}.json").write_bytes(real_record[1])
    case.recordfile(BAD).write_bytes(real_record[0])
    cp = case("status", BAD)
    assert cp.returncode == 3 and "Traceback" not in cp.stderr, cp.stderr  # stopped
    assert_ok(case("remove", BAD))


def _fifo(path):
    os.mkfifo(path)


def _symlink_to(target):
    return lambda path: os.symlink(target, path)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("make,expect", [
    (_fifo, "FIFO"),
    (_symlink_to("/dev/zero"), "symbolic link"),
    (os.mkdir, "directory"),
], ids=["fifo", "symlink-to-dev-zero", "directory"])
def test_a_record_that_is_not_a_regular_file(case, tmp_path, make, expect):
    """Issue 10 #4: a FIFO as record hung `status`; a symlink is never followed."""
    run_case(case, None, expect, make=make)


def test_a_symlink_to_a_valid_record_is_not_followed(case, real_record, tmp_path):
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_bytes(real_record[0])
    run_case(case, None, "symbolic link", make=_symlink_to(elsewhere))
    assert elsewhere.read_bytes() == real_record[0]  # remove unlinked the link, not its target


def test_remove_keeps_a_corrupt_record_whose_daemon_still_runs(dctl):
    """A record cut short while its daemon runs: remove refuses (naming the PID) rather than hide it."""
    pid = dctl.start("web", SLEEP, "300")
    raw = dctl.recordfile("web").read_bytes()
    dctl.recordfile("web").write_bytes(raw[: raw.index(b'"command"')])  # identity kept, spec lost
    cp = dctl("remove", "web")
    assert_one_error(cp, 1)
    assert f"pid {pid}" in cp.stderr and f"kill {pid}" in cp.stderr
    assert dctl.recordfile("web").exists() and alive(pid)
    os.kill(pid, 15)
    assert wait_gone(pid)
    assert_ok(dctl("remove", "web"))
    assert not dctl.recordfile("web").exists() and not dctl.pidfile("web").exists()


def test_remove_keeps_a_garbage_record_whose_pidfile_names_a_live_daemon(dctl):
    """Nothing left in the record: the pidfile written after the daemon started still counts."""
    pid = dctl.start("web", SLEEP, "300")
    dctl.recordfile("web").write_bytes(b"\0\0\0")
    assert_one_error(dctl("remove", "web"), 1)
    assert alive(pid) and dctl.recordfile("web").exists()
    os.kill(pid, 15)
    assert wait_gone(pid)
    assert_ok(dctl("remove", "web"))


def test_remove_forgets_a_garbage_record_whose_pidfile_pid_was_reused(dctl):
    """A live process that started after the pidfile was written is not the daemon it named."""
    old = time.time() - 3600
    dctl.state_dir.mkdir(mode=0o700)
    dctl.recordfile("web").write_bytes(b"{")
    other = dctl.spawn(SLEEP, "300")
    dctl.pidfile("web").write_text(f"{other.pid}\n")
    os.utime(dctl.pidfile("web"), (old, old))  # written an hour before `other` started
    assert_ok(dctl("remove", "web"))
    assert not dctl.pidfile("web").exists() and other.poll() is None


def test_the_supervisor_leaves_a_corrupt_record_alone(dctl):
    """A --respawn supervisor whose record turns corrupt writes nothing more and restarts nothing."""
    sup = dctl.start("web", PY, "-c", "import time; time.sleep(300)", opts=["--respawn", "--restart-delay", "0.1"])
    data = dctl.record("web")
    pid = data["pid"]
    assert data["supervisor_pid"] == sup
    data["wait"] = "x"  # its own identity intact, a field wrong
    corrupt = json.dumps(data).encode()
    dctl.recordfile("web").write_bytes(corrupt)
    os.kill(pid, 9)
    assert wait_gone(sup), "the supervisor went on with a record that is not a record"
    assert dctl.recordfile("web").read_bytes() == corrupt
    assert dctl.token_pids() == []  # nothing restarted
    assert_ok(dctl("remove", "web"))


def test_start_refuses_a_record_that_would_not_load_again(dctl):
    """The CLI's ranges are the record's: a time a record cannot hold is bad usage, nothing is written."""
    for args in (["--wait", "nan"], ["--wait", "1e300"], ["--ready-timeout", "2e6"],
                 ["--respawn", "--max-restarts", str(2**40)], ["--respawn", "--restart-delay", "inf"]):
        assert_one_error(dctl("start", "-n", "web", *args, SLEEP, "300"), 2)
    assert not dctl.recordfile("web").exists() and not dctl.pidfile("web").exists()



def test_non_utf8_arguments_and_environment_are_recorded(dctl):
    """Bytes that are not UTF-8 (Python's surrogateescape) are a record's to hold, not corruption."""
    env = {**dctl.env, "LATIN1": "caf\udce9"}
    pid = dctl.start("web", "/bin/sh", "-c", "exec sleep 300", "caf\udce9", env=env)
    assert_ok(dctl("status", "web"))
    assert json.loads(dctl("status", "--json", "web").stdout)["command"][-1] == "caf\udce9"
    assert_ok(dctl("stop", "web"))
    assert wait_gone(pid)
