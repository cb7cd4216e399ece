"""--forking with the real programs it is for (issue 14): nginx with its default daemonizing
configuration, `redis-server --daemonize yes` and `memcached -d`, each in a temporary directory
of its own. `make tools` installs them (Debian packages nginx, redis-server, memcached)."""
import os
import shutil
import socket
import urllib.request
from pathlib import Path

import pytest

from .helpers import alive, assert_ok, group_members, proc_stat, read_pidfile, wait_for, wait_gone

pytestmark = pytest.mark.integration


def program(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if path is None:
        pytest.skip(f"{name} is not installed (make tools installs it with apt-get)")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ask(port: int, request: bytes) -> bytes:
    """The server's answer; b"" while it does not listen yet (redis listens after it daemonizes)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(request)
            return s.recv(200)
    except OSError:
        return b""


def daemon_processes(master: int) -> list[int]:
    """The daemon and everything in its process group (its workers)."""
    return sorted({master, *group_members(proc_stat(master)["pgrp"])})


def stop_leaves_nothing(dctl, name: str, master: int) -> None:
    processes = daemon_processes(master)
    dctl.track(master)
    assert_ok(dctl("stop", name))
    for pid in processes:
        assert wait_gone(pid), f"pid {pid} of {name} outlived stop"
    assert dctl("status", name).returncode == 3


NGINX_CONF = """\
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
worker_processes 2;
events {{ worker_connections 64; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port} reuseport;
        location / {{ return 200 "served by nginx\\n"; }}
    }}
}}
"""


def workers(master: int) -> set[int]:
    return {p for p in group_members(proc_stat(master)["pgrp"]) if p != master}


def test_nginx(dctl, tmp_path, reserved_port):
    nginx = program("nginx")
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(prefix=prefix, port=reserved_port))
    own = prefix / "nginx.pid"
    argv = [nginx, "-p", prefix, "-e", prefix / "error.log", "-c", conf]
    assert_ok(dctl("start", "-n", "nginx", "--forking", "--pid-from", own, "--ready-port", reserved_port, *argv))
    master = dctl.track(read_pidfile(own))
    assert dctl.pid("nginx") == master and dctl.record("nginx")["pid"] == master
    assert "master process" in Path(f"/proc/{master}/cmdline").read_text()
    url = f"http://127.0.0.1:{reserved_port}/"
    assert urllib.request.urlopen(url, timeout=5).read() == b"served by nginx\n"
    assert wait_for(lambda: len(workers(master)) == 2)
    before = workers(master)
    # Reload: nginx starts new workers and ends the old ones; the master stays.
    assert_ok(dctl("signal", "nginx", "HUP"))
    assert wait_for(lambda: len(workers(master)) == 2 and not workers(master) & before)
    assert dctl("status", "nginx").returncode == 0
    assert_ok(dctl("restart", "nginx"))
    new = dctl.track(read_pidfile(own))
    assert new != master and wait_gone(master) and dctl.pid("nginx") == new
    assert urllib.request.urlopen(url, timeout=5).read() == b"served by nginx\n"
    stop_leaves_nothing(dctl, "nginx", new)
    assert not own.exists(), "nginx removes its own pidfile"


def redis_argv(redis: str, port: int, directory: Path, pidfile: Path) -> list:
    return [redis, "--daemonize", "yes", "--port", port, "--bind", "127.0.0.1", "--pidfile", pidfile,
            "--dir", directory, "--save", "", "--logfile", directory / "redis.log"]


def test_redis_with_p_on_its_own_pidfile(dctl, tmp_path):
    """The issue's scenario: -p and --pid-from both name redis's pidfile, which stays redis's."""
    redis = program("redis-server")
    port, own = free_port(), tmp_path / "redis.pid"
    argv = redis_argv(redis, port, tmp_path, own)
    assert_ok(dctl("start", "-n", "redis", "-p", own, "--forking", "--pid-from", own, *argv))
    server = dctl.track(read_pidfile(own))
    assert dctl.record("redis")["pid"] == server
    assert wait_for(lambda: ask(port, b"PING\r\n") == b"+PONG\r\n")
    assert_ok(dctl("signal", "redis", "HUP"))  # redis carries on
    assert ask(port, b"PING\r\n") == b"+PONG\r\n" and alive(server)
    assert_ok(dctl("restart", "redis"))
    new = dctl.track(read_pidfile(own))
    assert new != server and wait_gone(server)
    assert wait_for(lambda: ask(port, b"PING\r\n") == b"+PONG\r\n")
    cp = dctl("stop", "redis")
    assert_ok(cp)
    assert "stale" not in cp.stderr
    assert wait_gone(new)
    assert not own.exists(), "redis removes its own pidfile on shutdown"


@pytest.mark.parametrize("pid_from", [True, False], ids=["pid-from", "single"])
def test_memcached(dctl, tmp_path, pid_from):
    memcached = program("memcached")
    port, own = free_port(), tmp_path / "memcached.pid"
    argv = [memcached, "-d", "-l", "127.0.0.1", "-p", port, "-U", "0"]
    if os.geteuid() == 0:
        argv += ["-u", "root"]  # memcached refuses to run as root without it
    opts = ["--forking", "--wait", "0.5"]
    if pid_from:
        argv += ["-P", own]
        opts += ["--pid-from", own]
    assert_ok(dctl("start", "-n", "mc", *opts, *argv))
    server = dctl.track(dctl.pid("mc"))
    if pid_from:
        assert read_pidfile(own) == server
    assert wait_for(lambda: ask(port, b"version\r\n").startswith(b"VERSION "))
    assert_ok(dctl("restart", "mc"))
    new = dctl.track(dctl.pid("mc"))
    assert new != server and wait_gone(server)
    assert wait_for(lambda: ask(port, b"version\r\n").startswith(b"VERSION "))
    stop_leaves_nothing(dctl, "mc", new)
