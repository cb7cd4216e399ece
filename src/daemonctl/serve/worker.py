"""One change (start, stop, restart, signal) run in a process of its own: `python -P -m daemonctl.serve.worker`.

The server's threads never fork: a fork from a threaded process copies locks that other
threads hold, and `start` forks the daemon and may make its caller a subreaper (which
would leave the server the parent of every daemon it started). So each change runs
here, through the same operations the CLI calls (start.py, stop.py), and the server
reads the outcome: one JSON object on stdout, {"exit": CODE, "result" | "error": ...}.
The request comes on stdin: {"state_dir", "action", "name", "signal"}.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from daemonctl.errors import DaemonctlError, UsageError
from daemonctl.exitcodes import ExitStatus

ACTIONS = ("start", "stop", "restart", "signal")


def perform(request: dict[str, Any]) -> dict[str, Any]:
    from daemonctl.schedule import default_schedule
    from daemonctl.store.statedir import StateDir, validate_name

    state = StateDir.resolve(request["state_dir"])
    name = validate_name(request["name"])
    action = request["action"]
    if action == "start":
        from daemonctl.options import StartOptions
        from daemonctl.start import start

        return _started(start(state, StartOptions(name=name)))
    if action == "restart":
        from daemonctl.start import restart

        return _started(restart(state, name, (), default_schedule(10.0)))
    if action == "stop":
        from daemonctl.stop import stop

        stopped = stop(state, name, None, default_schedule(10.0))
        return {"name": stopped.label, "pid": stopped.pid, "outcome": stopped.outcome,
                "supervisor_pid": stopped.supervisor_pid, "note": stopped.note}
    if action == "signal":
        from daemonctl.signals import signal_name
        from daemonctl.stop import send_signal

        sent = send_signal(state, name, None, int(request["signal"]))
        return {"name": sent.label, "pid": sent.pid, "signal": signal_name(sent.signal).removeprefix("SIG")}
    raise UsageError(f"unknown action {action!r}")


def _started(result: Any) -> dict[str, Any]:
    return {"name": result.name, "pid": result.pid, "already_running": result.already_running,
            "supervisor_pid": result.supervisor_pid}


def main() -> int:
    try:
        request = json.loads(sys.stdin.read())
        answer: dict[str, Any] = {"exit": ExitStatus.OK, "result": perform(request)}
    except DaemonctlError as err:
        answer = {"exit": int(err.exit_code), "error": err.message, "log_tail": err.log_tail}
    except Exception as err:  # a defect of ours: the server answers 500 and its log keeps the cause
        import traceback

        traceback.print_exc()
        answer = {"exit": ExitStatus.FAILURE, "error": f"internal error: {type(err).__name__}: {err}"}
    sys.stdout.write(json.dumps(answer))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
