"""The resident supervisor stays lean: what it imports while it starts a program."""

import subprocess
import sys

# Runs what the supervisor runs at every start: credentials, logs (opened the safe way), the spawn of a child.
PROBE = r"""
import os, sys
import daemonctl.supervise.resident as sup
from daemonctl.proc.privileges import credentials_of
from daemonctl.proc.spawn import Launch, parse_report, spawn_child
credentials_of(None, None)
root = credentials_of("root", None)
out, _ = sup.open_log(os.devnull, "stdout", None)
pid, report = spawn_child(Launch("/bin/true", ["true"], dict(os.environ), "/", 0o22, out, out, root, None))
parse_report(report)
os.waitpid(pid, 0)
# With --forking it adopts each run's daemon too.
import daemonctl.proc.adopt, daemonctl.proc.subreaper, daemonctl.store.pidfile
print(" ".join(sorted(sys.modules)))
"""

# The json package is allowed: the supervisor checks the record it rewrites (store/schema.py).
HEAVY = ("click", "psutil", "dataclasses", "pathlib", "socket", "datetime", "typing", "daemonctl.store.record")


def test_supervisor_start_path_imports_nothing_heavy():
    out = subprocess.run([sys.executable, "-P", "-c", PROBE], capture_output=True, text=True, check=True).stdout
    loaded = set(out.split())
    assert "daemonctl.supervise.resident" in loaded and "daemonctl.proc.spawn" in loaded
    assert sorted(loaded & set(HEAVY)) == []


def test_the_sets_supervisor_imports_nothing_heavy():
    probe = PROBE.replace("import daemonctl.supervise.resident as sup",
                          "import daemonctl.supervise.pool_resident, daemonctl.supervise.resident as sup")
    out = subprocess.run([sys.executable, "-P", "-c", probe], capture_output=True, text=True, check=True).stdout
    loaded = set(out.split())
    assert "daemonctl.supervise.pool_resident" in loaded and "daemonctl.supervise.pool" in loaded
    assert sorted(loaded & set(HEAVY)) == []


# What the log writer, and a supervisor that writes the logs, run: the sink with rotation,
# stamps and syslog, and the pump over two pipes.
WRITER_PROBE = r"""
import os, sys, tempfile
import daemonctl.supervise.logwriter
import daemonctl.supervise.resident as sup
d = tempfile.mkdtemp()
record = {"name": "w", "stdout": d + "/out", "stderr": d + "/out", "log_max_size": 10, "log_keep": 2,
          "log_timestamps": True, "syslog": "daemon"}
writer = sup.LogWriter({"record": record, "lock_path": d + "/lock", "tz": "UTC", "syslog_socket": d + "/none"}, None)
os.write(writer.out, b"one\ntwo\n")
writer.finish()
assert open(d + "/out.1").read().endswith(" one\n"), os.listdir(d)
print(" ".join(sorted(sys.modules)))
"""


def test_log_writer_imports_nothing_heavy():
    out = subprocess.run([sys.executable, "-P", "-c", WRITER_PROBE], capture_output=True, text=True, check=True).stdout
    loaded = set(out.split())
    assert {"daemonctl.supervise.logwriter", "daemonctl.store.rotation", "daemonctl.supervise.syslog"} <= loaded
    assert sorted(loaded & set(HEAVY)) == []
