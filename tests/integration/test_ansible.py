"""The Ansible collection (integrations/ansible): built, installed, and run by ansible-playbook.

An inventory of three hosts, each with a state directory of its own, with the local
connection; and the same over real SSH, to an sshd this test starts on a loopback port with
a host key and an authorized key of its own, so the module travels over Ansible's SSH
transport. The module runs the worktree's daemonctl (`executable`).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import alive, assert_ok, read_pidfile, wait_for

# Each test runs ansible-playbook several times (some 2-5 s each, more under load).
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
COLLECTION = ROOT / "integrations" / "ansible"
BIN = Path(sys.executable).parent
HOSTS = ("h1", "h2", "h3")
SLEEP = ["sleep", "600"]


def tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{path} is missing: ansible-core is in the test extra (make venv)")
    return str(path)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The collection built with ansible-galaxy and installed from its tarball: the collections path."""
    out = tmp_path_factory.mktemp("collection")
    env = {**os.environ, "ANSIBLE_HOME": str(out / "home")}
    cp = subprocess.run([tool("ansible-galaxy"), "collection", "build", str(COLLECTION), "--output-path", str(out)],
                        capture_output=True, text=True, env=env, timeout=120)
    assert_ok(cp)
    (tarball,) = out.glob("daemonctl-daemonctl-*.tar.gz")
    cp = subprocess.run([tool("ansible-galaxy"), "collection", "install", str(tarball), "-p", str(out / "cols")],
                        capture_output=True, text=True, env=env, timeout=120)
    assert_ok(cp)
    return out / "cols"


class Fleet:
    """Hosts, each with its own state directory, and ansible-playbook runs against them."""

    def __init__(self, dctl, tmp_path: Path, installed: Path, hostvars: dict[str, dict[str, object]] | None = None):
        self.dctl = dctl
        self.tmp = tmp_path
        self.dirs = {host: tmp_path / f"state-{host}" for host in HOSTS}
        for path in self.dirs.values():
            dctl.with_state_dir(path)  # what the test leaves running is killed at teardown
        self.inventory = tmp_path / "inventory.json"
        hosts = {}
        for host in HOSTS:
            hosts[host] = {"state_dir": str(self.dirs[host]), "daemonctl": dctl.exe,
                           "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                           **(hostvars or {}).get(host, {})}
        self.inventory.write_text(json.dumps({"all": {"hosts": hosts}}))
        self.env = {**dctl.env, "ANSIBLE_COLLECTIONS_PATH": str(installed), "ANSIBLE_HOME": str(tmp_path / "ahome"),
                    "ANSIBLE_LOCAL_TEMP": str(tmp_path / "atmp"), "ANSIBLE_NOCOLOR": "1",
                    "ANSIBLE_RETRY_FILES_ENABLED": "0", "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_DEPRECATION_WARNINGS": "0"}
        self.runs = 0

    def set_hostvar(self, host: str, key: str, value: object) -> None:
        inventory = json.loads(self.inventory.read_text())
        inventory["all"]["hosts"][host][key] = value
        self.inventory.write_text(json.dumps(inventory))

    def play(self, *tasks: dict, extra: tuple[str, ...] = (), check: bool = False, diff: bool = False,
             limit: str | None = None) -> tuple[subprocess.CompletedProcess, dict[str, list[dict]]]:
        """Run TASKS (module arguments, with state_dir and executable filled in) on every host;
        the output and, per host, each task's result."""
        self.runs += 1
        results = self.tmp / f"results-{self.runs}"
        results.mkdir()
        body = []
        for i, args in enumerate(tasks):
            module_args = {"state_dir": "{{ state_dir }}", "executable": "{{ daemonctl }}", **args}
            body.append({"name": f"task {i}", "daemonctl.daemonctl.daemon": module_args, "register": f"r{i}",
                         "ignore_errors": True})
        listing = ", ".join(f"r{i}" for i in range(len(tasks)))
        body.append({"name": "results", "delegate_to": "localhost", "check_mode": False, "diff": False, "changed_when": False,
                     "copy": {"dest": f"{results}/{{{{ inventory_hostname }}}}.json",
                              "content": f"{{{{ [{listing}] | to_json }}}}"},
                     "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}})
        playbook = self.tmp / f"play-{self.runs}.yml"
        playbook.write_text(json.dumps([{"hosts": "all", "gather_facts": False, "tasks": body}]))
        argv = [tool("ansible-playbook"), "-i", str(self.inventory), str(playbook), *extra]
        argv += ["--check"] if check else []
        argv += ["--diff"] if diff else []
        argv += ["--limit", limit] if limit else []
        cp = subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=300, stdin=subprocess.DEVNULL)
        assert cp.returncode == 0, f"ansible-playbook failed:\n{cp.stdout}\n{cp.stderr}"
        return cp, {path.stem: json.loads(path.read_text()) for path in results.glob("*.json")}

    def status(self, host: str, name: str) -> dict | None:
        cp = self.dctl("status", "--json", name, state_dir=self.dirs[host])
        return json.loads(cp.stdout) if cp.stdout.strip() else None

    def pid(self, host: str, name: str) -> int:
        return read_pidfile(self.dirs[host] / f"{name}.pid")

    def snapshot(self) -> dict[str, dict[str, bytes]]:
        """Every file of every host's state directory (records, pidfiles), byte for byte."""
        return {host: {p.name: p.read_bytes() for p in sorted(d.glob("*")) if p.suffix in (".json", ".pid")}
                for host, d in self.dirs.items() if d.exists()}


def recap(cp: subprocess.CompletedProcess) -> dict[str, dict[str, int]]:
    """PLAY RECAP's counts per host."""
    counts = {}
    for line in cp.stdout.split("PLAY RECAP", 1)[1].splitlines():
        host, sep, rest = line.partition(" : ")
        if sep:
            counts[host.strip()] = {k: int(v) for k, v in (word.split("=") for word in rest.split())}
    return counts


@pytest.fixture
def fleet(dctl, tmp_path, installed) -> Fleet:
    return Fleet(dctl, tmp_path, installed)


def web(**options) -> dict:
    return {"name": "web", "command": SLEEP, **options}


# --------------------------------------------------------------------------- started


def test_started_converges_three_hosts_then_nothing_changes(fleet):
    cp, results = fleet.play(web(env={"GREETING": "hi", "N": 3}, umask="027"))
    assert sorted(results) == list(HOSTS)
    pids = {}
    for host in HOSTS:
        (r,) = results[host]
        assert r["changed"] is True and r["actions"] == ["start"], r
        assert r["daemon"]["state"] == "running" and r["daemon"]["command"] == SLEEP
        assert r["daemon"]["options"]["env"] == {"GREETING": "hi", "N": "3"}
        assert r["daemon"]["options"]["umask"] == "027"
        pids[host] = fleet.pid(host, "web")
        assert alive(pids[host]) and r["daemon"]["pid"] == pids[host]
        assert (Path(f"/proc/{pids[host]}/status").read_text().split("Umask:")[1].split()[0]) == "0027"
    assert len(set(pids.values())) == 3
    assert all(counts["changed"] == 1 for counts in recap(cp).values()), cp.stdout

    cp, results = fleet.play(web(env={"N": "3", "GREETING": "hi"}, umask="0027"))
    for host in HOSTS:
        (r,) = results[host]
        assert r["changed"] is False and r["actions"] == [], r
        assert fleet.pid(host, "web") == pids[host] and alive(pids[host])
    assert all(counts["changed"] == 0 and counts["failed"] == 0 for counts in recap(cp).values()), cp.stdout


def test_a_value_written_another_way_is_the_same_value(fleet):
    """What daemonctl records is compared, not the task's text: no restart for another spelling."""
    first = web(umask="027", log_max_size="1M", ready_timeout=30, env={"N": 3}, chdir="/tmp/",
                limit={"nofile": "1024:2048", "core": "unlimited"})
    _, results = fleet.play(first, limit="h1")
    assert results["h1"][0]["changed"] is True, results["h1"]
    options = fleet.status("h1", "web")["options"]
    assert options["log_max_size"] == 1 << 20 and options["limit"] == {"nofile": [1024, 2048], "core": [None, None]}
    pid = fleet.pid("h1", "web")
    for same in (web(umask="0027", log_max_size="1024K", ready_timeout=30.0, env={"N": "3"}, chdir="/tmp",
                     limit={"core": "unlimited:unlimited", "nofile": "1024:2048"}),
                 web(umask="27", log_max_size=1048576, env={"N": "3"}, chdir="/tmp//",
                     limit={"nofile": "1024:2048", "core": "infinity"})):
        _, results = fleet.play(same, limit="h1")
        assert results["h1"][0]["changed"] is False, (same, results["h1"])
    assert fleet.pid("h1", "web") == pid
    _, results = fleet.play(web(umask="027", log_max_size="2M", env={"N": "3"}, chdir="/tmp",
                                limit={"nofile": "1024:2048", "core": "unlimited"}), limit="h1")
    assert results["h1"][0]["changed"] is True and results["h1"][0]["reason"] == "differs from the task: log_max_size"


def test_a_changed_option_restarts_that_daemon_only(fleet, tmp_path):
    other = tmp_path / "elsewhere"
    other.mkdir()
    tasks = (web(chdir="{{ web_dir | default('/') }}"), {"name": "worker", "command": SLEEP})
    fleet.play(*tasks)
    before = {(h, n): fleet.pid(h, n) for h in HOSTS for n in ("web", "worker")}

    fleet.set_hostvar("h2", "web_dir", str(other))
    cp, results = fleet.play(*tasks)
    web_r, worker_r = results["h2"]
    assert web_r["changed"] is True and web_r["actions"] == ["stop", "start"], web_r
    assert "chdir" in web_r["reason"]
    assert worker_r["changed"] is False
    new = fleet.pid("h2", "web")
    assert new != before[("h2", "web")] and not alive(before[("h2", "web")])
    assert os.readlink(f"/proc/{new}/cwd") == str(other)
    for key, pid in before.items():
        if key != ("h2", "web"):
            assert fleet.pid(*key) == pid and alive(pid), key
    assert recap(cp)["h1"]["changed"] == 0 and recap(cp)["h3"]["changed"] == 0 and recap(cp)["h2"]["changed"] == 1

    # An option dropped from the task is daemonctl's default again: another restart, then none.
    _, results = fleet.play(web(), limit="h2")
    assert results["h2"][0]["changed"] is True and os.readlink(f"/proc/{fleet.pid('h2', 'web')}/cwd") == "/"
    _, results = fleet.play(web(), limit="h2")
    assert results["h2"][0]["changed"] is False


def test_a_changed_command_restarts(fleet):
    fleet.play(web())
    old = fleet.pid("h1", "web")
    _, results = fleet.play(web(command=["sleep", "601"]), limit="h1")
    (r,) = results["h1"]
    assert r["changed"] is True and r["reason"] == "differs from the task: command", r
    assert not alive(old) and fleet.status("h1", "web")["command"] == ["sleep", "601"]


def test_check_mode_changes_nothing(fleet):
    # Nothing yet: check mode says it would start, and starts nothing.
    cp, results = fleet.play(web(), check=True)
    for host in HOSTS:
        assert results[host][0]["changed"] is True and results[host][0]["actions"] == ["start"]
        assert fleet.status(host, "web") is None
    assert fleet.snapshot() == {host: {} for host in HOSTS if fleet.dirs[host].exists()}

    fleet.play(web())
    pids = {host: fleet.pid(host, "web") for host in HOSTS}
    files = fleet.snapshot()
    for args in (web(chdir="/tmp"), web(command=["sleep", "602"]), {"name": "web", "state": "stopped"},
                 {"name": "web", "state": "restarted"}, {"name": "web", "state": "absent"}):
        _, results = fleet.play(args, check=True)
        for host in HOSTS:
            assert results[host][0]["changed"] is True, (args, results[host])
            assert fleet.pid(host, "web") == pids[host] and alive(pids[host]), args
        assert fleet.snapshot() == files, args


def test_diff_shows_the_recorded_options_before_and_after(fleet):
    fleet.play(web(env={"A": "1"}))
    cp, results = fleet.play(web(env={"A": "2"}, nice=5), diff=True, check=True, limit="h1")
    diff = results["h1"][0]["diff"]
    assert diff["before"]["options"]["env"] == {"A": "1"} and diff["after"]["options"]["env"] == {"A": "2"}
    assert diff["before"]["options"]["nice"] is None and diff["after"]["options"]["nice"] == 5
    removed = [line[1:].strip() for line in cp.stdout.splitlines() if line.startswith("-") and not line.startswith("---")]
    added = [line[1:].strip() for line in cp.stdout.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert sorted(removed) == ['"A": "1"', '"nice": null,'] and sorted(added) == ['"A": "2"', '"nice": 5,'], cp.stdout
    assert "--- before: web (recorded)" in cp.stdout and "+++ after: web (task)" in cp.stdout
    # Applied with --diff: after is what daemonctl now records.
    cp, results = fleet.play(web(env={"A": "2"}, nice=5), diff=True, limit="h1")
    assert results["h1"][0]["diff"]["after"]["options"]["nice"] == 5
    assert fleet.status("h1", "web")["options"]["nice"] == 5


# --------------------------------------------------------------------------- stopped, restarted, absent


def test_stopped_then_ok_and_the_record_stays(fleet):
    fleet.play(web(respawn="on-failure"))
    pids = {host: fleet.pid(host, "web") for host in HOSTS}
    _, results = fleet.play({"name": "web", "state": "stopped"})
    for host in HOSTS:
        assert results[host][0]["changed"] is True and results[host][0]["actions"] == ["stop"]
        assert wait_for(lambda h=host: not alive(pids[h]))
        assert fleet.status(host, "web")["state"] == "stopped"
    _, results = fleet.play({"name": "web", "state": "stopped"})
    assert all(results[host][0]["changed"] is False for host in HOSTS)
    # A stopped daemon with matching options is started again, by started.
    _, results = fleet.play(web(respawn="on-failure"))
    assert all(results[host][0]["actions"] == ["start"] for host in HOSTS)
    assert all(fleet.status(host, "web")["state"] == "running" for host in HOSTS)


def test_a_dead_daemon_is_started_again(fleet):
    import signal

    fleet.play(web(), limit="h1")
    pid = fleet.pid("h1", "web")
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: fleet.status("h1", "web")["state"] == "dead")
    _, results = fleet.play(web(), limit="h1")
    (r,) = results["h1"]
    assert r["changed"] is True and r["actions"] == ["start"] and r["reason"] == "was dead", r
    assert fleet.pid("h1", "web") != pid and fleet.status("h1", "web")["state"] == "running"


def test_stopped_of_an_unknown_daemon_is_ok(fleet):
    _, results = fleet.play({"name": "ghost", "state": "stopped"}, {"name": "ghost", "state": "absent"})
    assert all(r["changed"] is False and not r.get("failed") for host in HOSTS for r in results[host]), results


def test_restarted_always_restarts(fleet):
    fleet.play(web())
    pids = {host: fleet.pid(host, "web") for host in HOSTS}
    for args in (web(), {"name": "web", "state": "restarted"}):
        _, results = fleet.play({**args, "state": "restarted"})
        for host in HOSTS:
            assert results[host][0]["changed"] is True
            new = fleet.pid(host, "web")
            assert new != pids[host] and alive(new) and not alive(pids[host])
            pids[host] = new


def test_absent_stops_and_removes(fleet):
    fleet.play(web())
    pids = {host: fleet.pid(host, "web") for host in HOSTS}
    _, results = fleet.play({"name": "web", "state": "absent"})
    for host in HOSTS:
        assert results[host][0]["changed"] is True and results[host][0]["actions"] == ["stop", "remove"]
        assert results[host][0]["daemon"] is None
        assert not alive(pids[host]) and fleet.status(host, "web") is None
        # The record and the pidfile are gone; the log stays, as `daemonctl remove` leaves it.
        assert not (fleet.dirs[host] / "web.json").exists() and not (fleet.dirs[host] / "web.pid").exists()
    _, results = fleet.play({"name": "web", "state": "absent"})
    assert all(results[host][0]["changed"] is False for host in HOSTS)


# --------------------------------------------------------------------------- failures


def test_a_missing_program_fails_with_daemonctls_line_and_status(fleet, dctl, tmp_path):
    missing = str(tmp_path / "no-such-program")
    _, results = fleet.play({"name": "web", "command": [missing, "x"]})
    own = dctl("start", "-n", "web", missing, "x", state_dir=tmp_path / "direct")
    assert own.returncode == 5
    line = own.stderr.strip().splitlines()[-1].replace(str(tmp_path / "direct"), "")
    assert line.startswith("daemonctl: error: ")
    for host in HOSTS:
        (r,) = results[host]
        assert r["failed"] is True and r["rc"] == 5, r
        assert r["msg"] == f"{line} (exit status 5)", r
        assert fleet.status(host, "web") is None
        assert not (fleet.dirs[host] / "web.json").exists() and not (fleet.dirs[host] / "web.pid").exists()


def test_restarted_without_command_of_an_unknown_daemon_fails_with_daemonctls_line(fleet, dctl, tmp_path):
    _, results = fleet.play({"name": "ghost", "state": "restarted"}, limit="h1")
    own = dctl("restart", "ghost", state_dir=tmp_path / "direct")
    line = own.stderr.strip().splitlines()[-1].replace(str(tmp_path / "direct"), str(fleet.dirs["h1"]))
    (r,) = results["h1"]
    assert r["failed"] is True and r["rc"] == own.returncode == 6 and r["msg"] == f"{line} (exit status 6)", r


def test_a_failed_restart_converges_on_the_next_run(fleet, tmp_path):
    fleet.play(web(), limit="h1")
    old = fleet.pid("h1", "web")
    _, results = fleet.play(web(wait=2, command=["sh", "-c", "exit 3"]), limit="h1")
    (r,) = results["h1"]
    assert r["failed"] is True and r["rc"] == 1 and "daemonctl: error: " in r["msg"], r
    assert not alive(old)
    status = fleet.status("h1", "web")
    assert status["state"] != "running" and status["command"] == SLEEP  # the old record, stopped
    _, results = fleet.play(web(), limit="h1")
    assert results["h1"][0]["changed"] is True and fleet.status("h1", "web")["state"] == "running"
    _, results = fleet.play(web(), limit="h1")
    assert results["h1"][0]["changed"] is False


@pytest.mark.parametrize(("args", "says"), [
    ({"name": "web", "command": SLEEP, "state": "running"}, "value of state must be one of"),
    ({"name": "web", "command": SLEEP, "no_such_option": 1}, "Unsupported parameters"),
    ({"name": "web", "command": SLEEP, "respawn": "sometimes"}, "value of respawn must be one of"),
    ({"name": "web", "command": SLEEP, "nice": "high"}, "nice"),
    ({"name": "web", "command": SLEEP, "umask": "999"}, "umask takes an octal mode"),
    ({"name": "web", "command": SLEEP, "chdir": "relative/dir"}, "chdir must be an absolute path"),
    ({"name": "web"}, "state=started needs command"),
    ({"command": SLEEP}, "missing required arguments: name"),
    ({"name": "web", "state": "restarted", "nice": 3}, "start options need command"),
])
def test_bad_arguments_fail_before_anything_runs(fleet, args, says):
    _, results = fleet.play(args, limit="h1")
    (r,) = results["h1"]
    assert r["failed"] is True and says in r["msg"], r
    assert not fleet.dirs["h1"].exists() or not list(fleet.dirs["h1"].iterdir())


def test_no_daemonctl_on_the_host_fails_clearly(fleet, tmp_path):
    _, results = fleet.play({"name": "web", "command": SLEEP, "executable": str(tmp_path / "nowhere")}, limit="h1")
    assert results["h1"][0]["failed"] is True and "is not an executable file" in results["h1"][0]["msg"]


# --------------------------------------------------------------------------- documentation


def test_ansible_doc_renders_every_option(installed, tmp_path):
    sys.path.insert(0, str(COLLECTION))
    try:
        import generate  # integrations/ansible/generate.py: the start options the module takes
    finally:
        sys.path.remove(str(COLLECTION))
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(installed), "ANSIBLE_HOME": str(tmp_path / "ahome"),
           "ANSIBLE_NOCOLOR": "1"}
    cp = subprocess.run([tool("ansible-doc"), "--json", "daemonctl.daemonctl.daemon"], capture_output=True, text=True,
                        env=env, timeout=120)
    assert_ok(cp)
    doc = json.loads(cp.stdout)["daemonctl.daemonctl.daemon"]
    options = set(doc["doc"]["options"])
    assert options == {"name", "command", "state", "state_dir", "executable", *(o.name for o in generate.managed())}
    assert {"daemon", "actions", "rc", "msg"} <= set(doc["return"]) and "daemonctl.daemonctl.daemon:" in doc["examples"]
    cp = subprocess.run([tool("ansible-doc"), "daemonctl.daemonctl.daemon"], capture_output=True, text=True, env=env,
                        timeout=120)
    assert_ok(cp)
    for words in ("daemonctl.daemonctl.daemon", "OPTIONS", "ready_port", "EXAMPLES", "RETURN VALUES"):
        assert words in cp.stdout, words


def test_ansible_tests_validate_modules_passes(installed):
    """ansible-test's validate-modules, the sanity test that checks DOCUMENTATION, EXAMPLES and
    RETURN against their schema and the argument spec (by importing the module) against the
    documentation: run as `ansible-test sanity --test validate-modules` runs it. ansible-test
    itself cannot run here: it bootstraps pip for its venvs from a download outside PyPI."""
    import ansible_test

    validate = Path(ansible_test.__file__).parent / "_util" / "controller" / "sanity" / "validate-modules" / "validate.py"
    collection = installed / "ansible_collections" / "daemonctl" / "daemonctl"
    env = {**os.environ, "PYTHONPATH": str(installed), "ANSIBLE_TEST_TARGET_PYTHON_VERSION": "3.11",
           "ANSIBLE_TEST_CONTROLLER_PYTHON_VERSIONS": "3.11,3.12,3.13",
           "ANSIBLE_TEST_REMOTE_ONLY_PYTHON_VERSIONS": "3.8,3.9,3.10"}
    cp = subprocess.run([sys.executable, str(validate), "--format", "json", "--arg-spec", "--collection",
                         "ansible_collections/daemonctl/daemonctl", "--collection-version", "0.1.0",
                         "plugins/modules/daemon.py"], cwd=collection, capture_output=True, text=True, env=env, timeout=300)
    assert cp.returncode in (0, 3) and not cp.stderr, cp.stderr
    report = json.loads(cp.stdout).get("plugins/modules/daemon.py", {"errors": [], "traces": []})
    # The one exception: the module is under daemonctl's MIT licence, not ansible-core's GPLv3.
    errors = [e for e in report["errors"] if e["code"] != "missing-gplv3-license"]
    assert not errors and not report["traces"], json.dumps(report, indent=1)


def test_status_json_never_shows_the_callers_environment(fleet):
    fleet.env["SECRET_OF_THE_CALLER"] = "s3cr3t"
    fleet.play(web(env={"SHOWN": "yes"}), limit="h1")
    cp = fleet.dctl("status", "--json", "web", state_dir=fleet.dirs["h1"])
    assert "s3cr3t" not in cp.stdout and json.loads(cp.stdout)["options"]["env"] == {"SHOWN": "yes"}
    pid = fleet.pid("h1", "web")
    assert "SECRET_OF_THE_CALLER=s3cr3t" in Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")


# --------------------------------------------------------------------------- over SSH


class Sshd:
    """An sshd of the test's own on a loopback port: its own host key, one authorized client key."""

    def __init__(self, base: Path):
        self.base = base
        self.proc: subprocess.Popen | None = None
        self.port = 0
        keygen = shutil.which("ssh-keygen")
        assert keygen, "ssh-keygen is missing (openssh-client, with openssh-server: make tools)"
        for key in ("host_key", "client_key"):
            assert_ok(subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(base / key)],
                                     capture_output=True, text=True, timeout=60))
        (base / "authorized_keys").write_text((base / "client_key.pub").read_text())

    def start(self) -> None:
        sshd = "/usr/sbin/sshd"
        if not os.access(sshd, os.X_OK):
            pytest.fail("sshd is missing: make tools installs openssh-server")
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # its privilege separation directory
        for _attempt in range(5):  # a port found free may be taken before sshd binds it: try another
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = s.getsockname()[1]
            config = self.base / "sshd_config"
            config.write_text("\n".join([
                f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {self.base / 'host_key'}",
                f"AuthorizedKeysFile {self.base / 'authorized_keys'}", "PubkeyAuthentication yes",
                "PasswordAuthentication no", "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password",
                "UsePAM no", "StrictModes no", "PidFile none", "Subsystem sftp internal-sftp",
                "AcceptEnv DAEMONCTL_STATE_DIR", ""]))
            self.proc = subprocess.Popen([sshd, "-D", "-e", "-f", str(config)], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=open(self.base / "sshd.log", "ab"))
            if wait_for(lambda: self.proc.poll() is not None or self._answers(), timeout=30) and self.proc.poll() is None:
                (self.base / "known_hosts").write_text(
                    f"[127.0.0.1]:{self.port} {(self.base / 'host_key.pub').read_text()}")
                return
            self.stop()
        pytest.fail(f"sshd did not start: {(self.base / 'sshd.log').read_text()}")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as conn:
                return conn.recv(4).startswith(b"SSH-")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)

    def hostvars(self) -> dict[str, object]:
        known = self.base / "known_hosts"
        return {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": self.port,
                "ansible_user": "root", "ansible_ssh_private_key_file": str(self.base / "client_key"),
                "ansible_ssh_common_args": f"-o UserKnownHostsFile={known} -o StrictHostKeyChecking=yes",
                "ansible_remote_tmp": str(self.base / "remote-tmp")}


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    server = Sshd(tmp_path_factory.mktemp("sshd"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def ssh_fleet(dctl, tmp_path, installed, sshd) -> Fleet:
    fleet = Fleet(dctl, tmp_path, installed, {host: sshd.hostvars() for host in HOSTS})
    fleet.env["ANSIBLE_SSH_ARGS"] = "-o ControlMaster=no"  # no master connection outliving the test
    return fleet


def test_over_ssh_a_playbook_converges_three_hosts(ssh_fleet, sshd):
    cp, results = ssh_fleet.play(web(env={"OVER": "ssh"}), {"name": "worker", "command": SLEEP}, extra=("-vvv",))
    assert "ESTABLISH SSH CONNECTION FOR USER: root" in cp.stdout and f"-o Port={sshd.port} " in cp.stdout
    assert "EXEC sftp " in cp.stdout and "AnsiballZ_daemon.py" in cp.stdout  # the module went over SSH
    pids = {}
    for host in HOSTS:
        assert [r["changed"] for r in results[host]] == [True, True], results[host]
        for name in ("web", "worker"):
            pids[host, name] = ssh_fleet.pid(host, name)
            assert alive(pids[host, name])
            # detached from the SSH session that started it: its session is its own
            assert os.getsid(pids[host, name]) != os.getsid(sshd.proc.pid)
        # started by the module in an SSH session of the test's sshd: the environment says so
        env = Path(f"/proc/{pids[host, 'web']}/environ").read_bytes().split(b"\0")
        assert any(v.startswith(b"SSH_CONNECTION=127.0.0.1 ") and v.endswith(f" {sshd.port}".encode()) for v in env)
        assert b"OVER=ssh" in env
    assert len(set(pids.values())) == 6
    cp, results = ssh_fleet.play(web(env={"OVER": "ssh"}), {"name": "worker", "command": SLEEP})
    assert all(counts["changed"] == 0 and counts["failed"] == 0 for counts in recap(cp).values()), cp.stdout
    assert all(ssh_fleet.pid(*key) == pid and alive(pid) for key, pid in pids.items())
    # one option changed on one host: that daemon restarts, no other
    ssh_fleet.set_hostvar("h3", "web_nice", 4)
    _, results = ssh_fleet.play(web(env={"OVER": "ssh"}, nice="{{ web_nice | default(omit) }}"),
                                {"name": "worker", "command": SLEEP})
    assert [r["changed"] for r in results["h3"]] == [True, False]
    assert all(not r["changed"] for host in ("h1", "h2") for r in results[host])
    assert ssh_fleet.pid("h3", "web") != pids["h3", "web"] and ssh_fleet.status("h3", "web")["options"]["nice"] == 4


def test_over_ssh_a_missing_program_fails_with_daemonctls_line(ssh_fleet, tmp_path):
    missing = str(tmp_path / "absent-program")
    _, results = ssh_fleet.play({"name": "web", "command": [missing]}, limit="h2")
    (r,) = results["h2"]
    assert r["failed"] is True and r["rc"] == 5, r
    assert r["msg"].startswith("daemonctl: error: ") and missing in r["msg"] and r["msg"].endswith("(exit status 5)")
    assert ssh_fleet.status("h2", "web") is None


def test_the_readme_playbook_converges_three_hosts_over_ssh(dctl, tmp_path, installed, sshd):
    """The README's playbook as written, over SSH to three hosts whose state directory comes from
    their environment (DAEMONCTL_STATE_DIR), as each host's would; /srv/www is the test's own and
    `executable` the worktree's daemonctl, which is in no PATH an SSH session has."""
    readme = (ROOT / "README.md").read_text().split("## Many hosts: the Ansible collection", 1)[1]
    playbook = readme.split("```yaml\n", 1)[1].split("```", 1)[0]
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("served by daemonctl over ansible\n")
    import yaml  # PyYAML comes with ansible-core

    plays = yaml.safe_load(playbook.replace("/srv/www", str(www)))
    for play in plays:
        for task in play["tasks"]:
            task["daemonctl.daemonctl.daemon"]["executable"] = dctl.exe
    (tmp_path / "site.yml").write_text(json.dumps(plays))
    fleet = Fleet(dctl, tmp_path, installed)
    hosts = {}
    for host in HOSTS:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        setenv = f"-o SetEnv=DAEMONCTL_STATE_DIR={fleet.dirs[host]}"
        hosts[host] = {**sshd.hostvars(), "web_port": port, "ansible_ssh_extra_args": setenv,
                       "ansible_python_interpreter": sys.executable}
    (tmp_path / "hosts.json").write_text(json.dumps({"app": {"hosts": hosts}}))
    argv = [tool("ansible-playbook"), "-i", str(tmp_path / "hosts.json"), str(tmp_path / "site.yml")]
    env = {**fleet.env, "ANSIBLE_SSH_ARGS": "-o ControlMaster=no"}
    for run, changed in ((1, 1), (2, 0)):
        cp = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, stdin=subprocess.DEVNULL)
        assert cp.returncode == 0, cp.stdout + cp.stderr
        counts = recap(cp)
        assert sorted(counts) == list(HOSTS), cp.stdout
        assert all(c["changed"] == changed and c["failed"] == 0 for c in counts.values()), (run, cp.stdout)
    import urllib.request
    for host in HOSTS:
        status = fleet.status(host, "web")
        assert status["state"] == "running" and status["options"]["respawn"] == "on-failure"
        port = hosts[host]["web_port"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as reply:
            assert reply.read() == b"served by daemonctl over ansible\n"


# --------------------------------------------------------------------------- sets of instances


def test_a_set_converges_scales_restarts_rolling_and_goes(fleet):
    def pids() -> dict[str, int]:
        return {m["name"]: m["pid"] for m in fleet.status("h1", "pool")}

    pool = {"name": "pool", "command": ["sleep", "60%i"], "env": {"N": "%i"}, "instances": 2}
    _, results = fleet.play(pool, limit="h1")
    (r,) = results["h1"]
    assert r["changed"] is True and r["actions"] == ["start"], r
    assert [(m["name"], m["state"], m["command"], m["options"]["env"]["N"]) for m in r["daemon"]] == [
        ("pool@1", "running", ["sleep", "601"], "1"), ("pool@2", "running", ["sleep", "602"], "2")]
    first = pids()
    _, results = fleet.play(pool, limit="h1")
    assert results["h1"][0]["changed"] is False and pids() == first, results["h1"]
    files = fleet.snapshot()
    for change in ({"instances": 3}, {"instances": 1}, {"env": {"N": "y"}}, {"command": ["sleep", "80%i"]}):
        _, results = fleet.play({**pool, **change}, limit="h1", check=True, diff=True)
        assert results["h1"][0]["changed"] is True and pids() == first and fleet.snapshot() == files, change

    _, results = fleet.play({**pool, "instances": 3}, limit="h1")
    assert results["h1"][0]["actions"] == ["scale"] and results["h1"][0]["changed"] is True
    grown = pids()
    assert sorted(grown) == ["pool@1", "pool@2", "pool@3"] and {k: grown[k] for k in first} == first
    _, results = fleet.play({**pool, "instances": 2}, limit="h1")
    assert results["h1"][0]["actions"] == ["scale"] and pids() == first and not alive(grown["pool@3"])
    _, results = fleet.play(pool, limit="h1")
    assert results["h1"][0]["changed"] is False

    # Another command: daemonctl's rolling restart with it.
    _, results = fleet.play({**pool, "command": ["sleep", "70%i"]}, limit="h1")
    assert results["h1"][0]["actions"] == ["restart-command"], results["h1"]
    rolled = pids()
    assert not set(rolled.values()) & set(first.values()) and all(alive(pid) for pid in rolled.values())
    assert [m["command"] for m in fleet.status("h1", "pool")] == [["sleep", "701"], ["sleep", "702"]]
    # Other options: a new set (daemonctl's rolling restart keeps the recorded options).
    _, results = fleet.play({**pool, "command": ["sleep", "70%i"], "env": {"N": "x%i"}}, limit="h1")
    assert results["h1"][0]["actions"] == ["stop", "remove", "start"], results["h1"]
    assert [m["options"]["env"]["N"] for m in fleet.status("h1", "pool")] == ["x1", "x2"]
    again = pids()
    _, results = fleet.play({**pool, "command": ["sleep", "70%i"], "env": {"N": "x%i"}}, limit="h1")
    assert results["h1"][0]["changed"] is False and pids() == again

    _, results = fleet.play({"name": "pool", "state": "restarted"}, limit="h1")
    assert results["h1"][0]["actions"] == ["restart"]
    assert not set(pids().values()) & set(again.values())
    _, results = fleet.play({"name": "pool", "state": "absent"}, limit="h1")
    assert results["h1"][0]["actions"] == ["stop", "remove"] and fleet.status("h1", "pool") is None


def test_one_daemon_becomes_a_set_and_back(fleet):
    fleet.play(web(), limit="h1")
    one = fleet.pid("h1", "web")
    _, results = fleet.play(web(instances=2), limit="h1")
    assert results["h1"][0]["actions"] == ["stop", "remove", "start"], results["h1"]
    assert not alive(one) and [m["name"] for m in fleet.status("h1", "web")] == ["web@1", "web@2"]
    _, results = fleet.play(web(), limit="h1")
    assert results["h1"][0]["actions"] == ["stop", "remove", "start"], results["h1"]
    assert fleet.status("h1", "web")["name"] == "web" and fleet.status("h1", "web")["state"] == "running"
    _, results = fleet.play(web(), limit="h1")
    assert results["h1"][0]["changed"] is False
