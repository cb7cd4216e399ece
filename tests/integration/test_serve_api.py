"""`daemonctl serve`: the API over its unix socket and over TCP, each change checked on the real processes."""
from __future__ import annotations

import json
import os
import signal
import stat

import pytest

from .helpers import (
    BATCHES,
    PY,
    SIGNAL_LOGGER,
    SLEEP,
    alive,
    assert_ok,
    assert_one_error,
    compressed_rotations,
    log_lines,
    wait_for,
    wait_gone,
)

pytestmark = pytest.mark.integration


def status_json(dctl, *name):
    cp = dctl("status", "--json", *name)
    return json.loads(cp.stdout)


LIVE = ("memory", "cpu_seconds")  # the program's usage, which moves between two looks


def same_status(api, cli) -> bool:
    """The API's status and the CLI's, taken moments apart: equal but for the live usage figures."""
    def still(report):
        return {k: v for k, v in report.items() if k not in LIVE}

    if isinstance(api, list):
        return isinstance(cli, list) and len(api) == len(cli) and all(same_status(a, c) for a, c in zip(api, cli, strict=True))
    return still(api) == still(cli) and all((k in api) == (k in cli) for k in LIVE)


def test_unix_socket_by_default_mode_0600_no_token(dctl, serve, state_dir):
    pid = dctl.start("web", SLEEP, "1000")
    server = serve()
    sock = state_dir / "daemonctl.sock"
    assert server.where == str(sock)
    st = sock.lstat()
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    assert not (state_dir / "daemonctl.token").exists()
    reply = server.get("/daemons", token=None)
    assert reply.status == 200, reply
    assert same_status(reply.json, status_json(dctl))
    assert reply.json[0]["pid"] == pid and reply.json[0]["state"] == "running"
    one = server.get("/daemons/web", token=None)
    assert one.status == 200 and same_status(one.json, status_json(dctl, "web"))
    assert server.stop() == 0
    assert not sock.exists(), "the socket is removed when the server stops"


def test_socket_elsewhere_and_second_server_refused(dctl, serve, tmp_path):
    path = tmp_path / "api.sock"
    first = serve("--socket", str(path))
    assert first.where == str(path)
    cp = dctl("serve", "--socket", str(path))
    assert_one_error(cp, 1)
    assert "another server" in cp.stderr
    assert first.get("/daemons").status == 200, "the first one still serves"
    first.proc.kill()  # leaves its socket behind
    first.proc.wait(10)
    assert path.exists()
    second = serve("--socket", str(path))
    assert second.get("/daemons").status == 200, "a stale socket is replaced"


def test_a_socket_path_too_long_says_so(dctl, state_dir, tmp_path):
    deep = tmp_path / ("d" * 120)
    deep.mkdir()
    cp = dctl("serve", "--socket", str(deep / "api.sock"))
    assert_one_error(cp, 1)
    assert "at most 107 bytes" in cp.stderr and "--socket" in cp.stderr
    cp = dctl("serve", state_dir=deep / "state")  # the default, in a state directory deep down
    assert_one_error(cp, 1)
    assert not (deep / "state").exists(), "nothing is left behind"


def test_socket_and_listen_together_is_bad_usage(dctl, tmp_path):
    assert_one_error(dctl("serve", "--socket", str(tmp_path / "s"), "--listen", "0"), 2)
    assert_one_error(dctl("serve", "--listen", "127.0.0.1:99999"), 2)
    assert_one_error(dctl("serve", "--listen", "nope"), 2)


def test_tcp_needs_the_token_from_a_file_it_creates(dctl, serve, tmp_path):
    token_file = tmp_path / "token"
    server = serve("--listen", "127.0.0.1:0", "--token-file", str(token_file))
    assert server.where.startswith("http://127.0.0.1:")
    st = token_file.stat()
    assert stat.S_IMODE(st.st_mode) == 0o600 and len(server.token) >= 32
    assert server.token not in server.stderr, "the token itself is never written to the log"
    for token in (None, "wrong-token-of-some-length", server.token + "x"):
        reply = server.get("/daemons", token=token)
        assert reply.status == 401 and "error" in reply.json, reply
        assert reply.headers["WWW-Authenticate"] == "Bearer"
    assert server.post("/daemons/x/stop", token=None).status == 401
    assert server.get("/daemons").status == 200
    page = server.request("GET", "/", token=None)
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    for asset in ("/app.js", "/style.css", "/favicon.svg"):
        assert server.request("GET", asset, token=None).status == 200, asset


def test_tcp_default_token_file_in_state_dir_and_kept(dctl, serve, state_dir):
    first = serve("--listen", "127.0.0.1:0")
    assert first.token_file == state_dir / "daemonctl.token"
    token = first.token
    first.stop()
    second = serve("--listen", "127.0.0.1:0")
    assert second.token == token, "an existing token file is read, not replaced"
    assert second.get("/daemons").status == 200


def test_an_address_taken_fails_and_leaves_no_token(dctl, serve, state_dir, tmp_path):
    first = serve("--listen", "127.0.0.1:0", "--token-file", str(tmp_path / "first"))
    port = first.address[1]
    cp = dctl("serve", "--listen", f"127.0.0.1:{port}", "--token-file", str(tmp_path / "second"))
    assert_one_error(cp, 1)
    assert f"127.0.0.1:{port}" in cp.stderr
    assert not (tmp_path / "second").exists()


@pytest.mark.parametrize("kind", ["open-to-others", "symlink", "too-short"])
def test_token_file_refused(dctl, tmp_path, kind):
    path = tmp_path / "token"
    if kind == "open-to-others":
        path.write_text("a" * 40 + "\n")
        path.chmod(0o644)
    elif kind == "symlink":
        (tmp_path / "real").write_text("a" * 40)
        (tmp_path / "real").chmod(0o600)
        path.symlink_to(tmp_path / "real")
    else:
        path.write_text("short\n")
        path.chmod(0o600)
    cp = dctl("serve", "--listen", "127.0.0.1:0", "--token-file", str(path))
    assert_one_error(cp, 1 if kind == "too-short" else 4)


def test_token_file_with_the_socket_asks_for_it_there_too(dctl, serve, tmp_path):
    server = serve("--token-file", str(tmp_path / "token"))
    assert not server.tcp and server.token
    assert server.get("/daemons", token=None).status == 401
    assert server.get("/daemons").status == 200


def test_read_only_refuses_every_change(dctl, serve):
    pid = dctl.start("web", SLEEP, "1000")
    server = serve("--listen", "127.0.0.1:0", "--read-only")
    for action, body in (("stop", None), ("start", None), ("restart", None), ("signal", {"signal": "TERM"})):
        reply = server.post(f"/daemons/web/{action}", body)
        assert reply.status == 403 and "read-only" in reply.json["error"], reply
    assert alive(pid) and dctl.pid("web") == pid
    assert server.get("/daemons/web").json["pid"] == pid
    assert server.get("/server").json["read_only"] is True


def test_each_change_on_the_real_processes(dctl, serve):
    pid = dctl.start_logger("app", survive="HUP,USR1")
    server = serve("--listen", "127.0.0.1:0")

    sent = server.post("/daemons/app/signal", {"signal": "HUP"})
    assert sent.status == 200 and sent.json == {"name": "app", "pid": pid, "signal": "HUP"}
    assert wait_for(lambda: "HUP" in log_lines(dctl.logfile("app")))
    assert server.post("/daemons/app/signal", {"signal": 10}).status == 200  # SIGUSR1 by number
    assert wait_for(lambda: "USR1" in log_lines(dctl.logfile("app")))

    stopped = server.post("/daemons/app/stop")
    assert stopped.status == 200 and stopped.json["outcome"] == "halted" and stopped.json["pid"] == pid
    assert wait_gone(pid) and not dctl.pidfile("app").exists()
    assert status_json(dctl, "app")["state"] == "stopped"
    assert server.post("/daemons/app/stop").json["outcome"] == "not-running"
    assert server.post("/daemons/app/signal", {"signal": "HUP"}).status == 409

    started = server.post("/daemons/app/start")
    assert started.status == 200 and started.json["already_running"] is False
    new = dctl.track(started.json["pid"])
    assert alive(new) and dctl.pid("app") == new != pid
    again = server.post("/daemons/app/start")
    assert again.status == 200 and again.json == {**started.json, "already_running": True}

    restarted = server.post("/daemons/app/restart")
    assert restarted.status == 200
    newer = dctl.track(restarted.json["pid"])
    assert wait_gone(new) and alive(newer) and dctl.pid("app") == newer
    assert server.get("/daemons/app").json["pid"] == newer
    assert "Traceback" not in server.stderr


def test_changes_of_a_respawn_daemon(dctl, serve):
    dctl.start("sup", SLEEP, "1000", opts=["--respawn"])
    program = status_json(dctl, "sup")["pid"]
    server = serve()
    reply = server.get("/daemons/sup")
    assert reply.json["supervisor_pid"] == dctl.pid("sup") and reply.json["restarts"] == 0
    assert server.post("/daemons/sup/stop").status == 200
    assert wait_gone(program)
    assert server.get("/daemons/sup").json["state"] == "stopped"


def test_errors_are_json_with_the_mapped_status(dctl, serve, tmp_path):
    dctl.start("web", SLEEP, "1000")
    server = serve("--listen", "127.0.0.1:0")
    cases = [
        ("GET", "/daemons/nosuch", None, 404),
        ("POST", "/daemons/nosuch/stop", None, 404),
        ("POST", "/daemons/nosuch/start", None, 404),
        ("GET", "/daemons/nosuch/logs", None, 404),
        ("GET", "/daemons/-bad", None, 400),
        ("GET", "/nothing", None, 404),
        ("GET", "/daemons/web/reload", None, 404),
        ("GET", "/daemons/web/stop", None, 400),
        ("POST", "/daemons", None, 400),
        ("POST", "/daemons/web/signal", None, 400),
        ("POST", "/daemons/web/signal", "{not json", 400),
        ("POST", "/daemons/web/signal", "[" * 2000 + "]" * 2000, 400),
        ("POST", "/daemons/web/signal", {"signal": "NOPE"}, 400),
        ("POST", "/daemons/web/signal", {"signal": True}, 400),
        ("POST", "/daemons/web/signal", {"signal": 0}, 400),
        ("GET", "/daemons/web/logs?lines=many", None, 400),
        ("GET", "/daemons/web/logs?lines=99999999", None, 400),
    ]
    for method, path, body, status in cases:
        reply = server.request(method, f"/api/v1{path}", body=body)
        assert reply.status == status, (method, path, reply)
        assert reply.headers["Content-Type"] == "application/json"
        assert set(reply.json) >= {"error"} and isinstance(reply.json["error"], str) and reply.json["error"]
    assert server.request("GET", "/api/v2/daemons").status == 404
    assert "Traceback" not in server.stderr


def test_a_failed_start_is_500_with_its_message(dctl, serve, tmp_path):
    program = tmp_path / "prog"
    program.write_text("#!/bin/sh\nexec sleep 1000\n")
    program.chmod(0o755)
    pid = dctl.start("gone", str(program))
    assert dctl("stop", "gone").returncode == 0 and wait_gone(pid)
    program.unlink()  # what the record would start is no longer there: the CLI exits 5
    server = serve()
    reply = server.post("/daemons/gone/start")
    assert reply.status == 500 and str(program) in reply.json["error"], reply
    assert dctl("start", "-n", "gone").returncode == 5


def test_logs_last_lines_and_follow(dctl, serve):
    code = "import sys\nfor i in range(30): print('line', i)\nsys.stdout.flush()\n" + SIGNAL_LOGGER
    dctl.start("talk", PY, "-c", code, "USR1,USR2", )
    assert wait_for(lambda: "ready" in log_lines(dctl.logfile("talk")))
    server = serve()
    reply = server.get("/daemons/talk/logs?lines=3")
    assert reply.status == 200
    assert reply.json == {"name": "talk", "lines": dctl("logs", "-n", "3", "talk").stdout.splitlines()}
    assert server.get("/daemons/talk/logs").json["lines"] == log_lines(dctl.logfile("talk"))[-10:]

    conn = server.connection()
    conn.request("GET", "/api/v1/daemons/talk/logs?follow=1&lines=2")
    stream = conn.getresponse()
    assert stream.status == 200 and stream.headers["Content-Type"].startswith("text/event-stream")
    from .serving import events

    first = events(stream, lambda d: len(d) >= 2)
    assert first == ["line 29", "ready"]
    assert dctl("signal", "talk", "USR1").returncode == 0
    assert events(stream, lambda d: d) == ["USR1"]
    assert server.post("/daemons/talk/signal", {"signal": "USR2"}).status == 200
    assert events(stream, lambda d: d) == ["USR2"]
    conn.close()


def test_logs_reach_back_into_rotated_and_compressed_files_as_the_cli_does(dctl, serve, tmp_path):
    # logrotate compress + delaycompress: the live log, LOG.1 (plain), LOG.2.gz ... LOG.4.gz.
    dctl.start("zip", PY, "-c", BATCHES)
    everything = compressed_rotations(dctl, tmp_path, ["zip"])
    server = serve()
    for n in (100, 8, 4, 1):  # all of it; into LOG.2.gz; into LOG.1; the live log alone
        cli = dctl("logs", "-n", str(n), "zip")
        assert_ok(cli)
        assert cli.stdout.splitlines() == everything[-n:]
        reply = server.get(f"/daemons/zip/logs?lines={n}")
        assert reply.status == 200 and reply.json == {"name": "zip", "lines": everything[-n:]}, (n, reply)

    from .serving import events

    conn = server.connection()
    conn.request("GET", "/api/v1/daemons/zip/logs?follow=1&lines=100")
    stream = conn.getresponse()
    assert stream.status == 200
    assert events(stream, lambda d: len(d) >= len(everything)) == everything
    assert_ok(dctl("signal", "zip", "USR1"))
    assert events(stream, lambda d: len(d) >= 3) == ["b6.1", "b6.2", "b6.3"]
    conn.close()


def test_a_sets_logs_reach_back_into_rotated_and_compressed_files_as_the_cli_does(dctl, serve, tmp_path):
    assert_ok(dctl("start", "-n", "web", "--instances", "2", PY, "-c", BATCHES))
    for i in (1, 2):
        dctl.track(dctl.pid(f"web@{i}"))
    everything = compressed_rotations(dctl, tmp_path, ["web@1", "web@2"])
    server = serve()
    for n in (100, 8):
        expected = [f"web@{i} | {line}" for i in (1, 2) for line in everything[-n:]]
        cli = dctl("logs", "-n", str(n), "web")
        assert_ok(cli)
        assert cli.stdout.splitlines() == expected
        reply = server.get(f"/daemons/web/logs?lines={n}")
        assert reply.status == 200 and reply.json == {"name": "web", "lines": expected}, (n, reply)
        one = server.get(f"/daemons/web@2/logs?lines={n}")
        assert one.status == 200 and one.json["lines"] == everything[-n:], (n, one)


def test_requests_answered_write_nothing_to_the_servers_log(serve):
    # Each answered request wrote "error answering a request: AttributeError(...)": the handler's
    # bounded input had no close() for http.server's finish().
    server = serve()
    for path in ("/api/v1/server", "/api/v1/daemons", "/"):
        s = server.raw_socket()
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
        got = b""
        while chunk := s.recv(65536):  # the server closes the connection once done with the request
            got += chunk
        s.close()
        assert got.startswith(b"HTTP/1.1 200 "), got[:200]
    assert server.stop() == 0
    assert server.stderr_ended.wait(30)
    assert [line for line in server.lines if not line.startswith("daemonctl: serving ")] == [], server.stderr


def test_serve_runs_as_a_daemon_and_stops_on_term(dctl, state_dir):
    daemonctl = dctl.exe
    pid = dctl.start("dashboard", daemonctl, "--state-dir", str(state_dir), "serve", "--listen", "127.0.0.1:0")
    log = dctl.logfile("dashboard")
    assert wait_for(lambda: any("serving http://" in line for line in log_lines(log)), 30), log_lines(log)
    url = next(line for line in log_lines(log) if "serving http://" in line).split("serving ")[1].split()[0]
    token = (state_dir / "daemonctl.token").read_text().strip()
    import urllib.request

    request = urllib.request.Request(url + "api/v1/daemons", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as resp:
        names = [d["name"] for d in json.load(resp)]
    assert names == ["dashboard"]
    # A follower still connected does not hold the stop up.
    follow = urllib.request.Request(url + "api/v1/daemons/dashboard/logs?follow=1",
                                    headers={"Authorization": f"Bearer {token}"})
    stream = urllib.request.urlopen(follow, timeout=30)
    assert stream.readline().startswith(b"retry:")
    cp = dctl("stop", "dashboard")
    assert cp.returncode == 0 and "stopped dashboard" in cp.stderr
    assert wait_gone(pid)
    assert stream.read() is not None  # the stream ends with the server
    stream.close()
    assert not any("Traceback" in line for line in log_lines(log))


def test_no_thread_of_serve_can_take_its_stop_signal_unseen(serve):
    """TERM, INT and HUP are blocked in every thread of serve but the main one, which waits for them.

    Taken by a helper thread (the sampler, the deadlines, a connection's), a TERM left a
    Python handler of the main thread unrun: 4 servers in 40 kept serving under load.
    """
    server = serve("--listen", "127.0.0.1:0")
    assert server.get("/daemons").status == 200  # one connection's thread has run too
    tasks = f"/proc/{server.proc.pid}/task"
    stops = (1 << (signal.SIGTERM - 1)) | (1 << (signal.SIGINT - 1)) | (1 << (signal.SIGHUP - 1))
    masks = {}
    for tid in os.listdir(tasks):
        try:
            with open(f"{tasks}/{tid}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except FileNotFoundError:
            continue  # a connection's thread that ended since the listing: it takes no signal now
        masks[tid] = int(fields["SigBlk"], 16)
    # (sigtimedwait shows what it waits for as unblocked in the main thread while it waits.)
    helpers = {t: m for t, m in masks.items() if t != str(server.proc.pid)}
    assert len(helpers) >= 3, masks  # the server loop, the sampler, the deadlines
    assert all(mask & stops == stops for mask in helpers.values()), {t: hex(m) for t, m in masks.items()}
    assert server.stop() == 0


def test_hot_paths_never_import_the_server(dctl, tmp_path):
    """start, status and stop in a fresh process: no http.server, socketserver or daemonctl.serve loaded."""
    code = (
        "import sys\n"
        "from daemonctl.cli.commands import main\n"
        "state = sys.argv[1]\n"
        f"for args in (['start', '-n', 'x', '{SLEEP}', '100'], ['status', 'x'], ['stop', 'x']):\n"
        "    assert main(['--state-dir', state, *args]) == 0, args\n"
        "loaded = [m for m in sys.modules if m.startswith(('daemonctl.serve', 'http.server', 'socketserver'))]\n"
        "print('loaded:' + ','.join(loaded))\n"
    )
    import subprocess

    cp = subprocess.run([PY, "-c", code, str(tmp_path / "st")], capture_output=True, text=True, timeout=60,
                        env=dctl.env)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.splitlines()[-1] == "loaded:"


def test_signal_name_also_numbers(dctl, serve):
    pid = dctl.start_logger("app", survive="USR2")
    server = serve("--listen", "127.0.0.1:0")
    reply = server.post("/daemons/app/signal", {"signal": "SIGUSR2"})
    assert reply.status == 200 and reply.json["signal"] == "USR2"
    assert wait_for(lambda: "USR2" in log_lines(dctl.logfile("app")))
    assert alive(pid)
    os.kill(pid, signal.SIGKILL)


def test_a_set_of_instances_as_the_cli_has_it(dctl, serve):
    cp = dctl("start", "-n", "pool", "--instances", "2", "--", PY, "-c", SIGNAL_LOGGER, "USR1")
    assert cp.returncode == 0, cp.stderr
    pids = [dctl.track(dctl.pid(f"pool@{i}")) for i in (1, 2)]
    assert all(wait_for(lambda i=i: "ready" in log_lines(dctl.logfile(f"pool@{i}"))) for i in (1, 2))
    server = serve("--listen", "127.0.0.1:0")

    reply = server.get("/daemons/pool")
    assert reply.status == 200 and same_status(reply.json, status_json(dctl, "pool"))
    assert [d["pid"] for d in reply.json] == pids

    sent = server.post("/daemons/pool/signal", {"signal": "USR1"})
    assert sent.status == 200 and [s["pid"] for s in sent.json["sent"]] == pids
    assert all(wait_for(lambda i=i: "USR1" in log_lines(dctl.logfile(f"pool@{i}"))) for i in (1, 2))
    logs = server.get("/daemons/pool/logs?lines=1")
    assert logs.status == 200 and logs.json["lines"] == dctl("logs", "-n", "1", "pool").stdout.splitlines()
    assert server.get("/daemons/pool/logs?follow=1").status == 400

    stopped = server.post("/daemons/pool/stop")
    assert stopped.status == 200 and [s["outcome"] for s in stopped.json["stopped"]] == ["halted", "halted"]
    assert all(wait_gone(pid) for pid in pids)
    started = server.post("/daemons/pool/start")
    assert started.status == 200 and len(started.json["started"]) == 2, started
    again = [dctl.track(s["pid"]) for s in started.json["started"]]
    assert all(alive(pid) for pid in again) and [dctl.pid(f"pool@{i}") for i in (1, 2)] == again
    rolled = server.post("/daemons/pool/restart")
    assert rolled.status == 200 and len(rolled.json["restarted"]) == 2
    newest = [dctl.track(s["pid"]) for s in rolled.json["restarted"]]
    assert all(wait_gone(pid) for pid in again) and all(alive(pid) for pid in newest)
    assert "Traceback" not in server.stderr
