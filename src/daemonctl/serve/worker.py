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
    from daemonctl.sets import set_members
    from daemonctl.store.statedir import StateDir, validate_name

    state = StateDir.resolve(request["state_dir"])
    name = validate_name(request["name"])
    action = request["action"]
    if action not in ACTIONS:
        raise UsageError(f"unknown action {action!r}")
    if set_members(state, name):
        return _on_set(state, name, action, request.get("signal"))
    from daemonctl.schedule import default_schedule

    if action == "start":
        from daemonctl.options import StartOptions
        from daemonctl.start import start

        return _started(start(state, StartOptions(name=name)))
    if action == "restart":
        from daemonctl.start import restart

        return _started(restart(state, name, (), default_schedule(10.0)))
    if action == "stop":
        from daemonctl.stop import stop

        return _stopped(stop(state, name, None, default_schedule(10.0)))
    from daemonctl.stop import send_signal

    return _sent(send_signal(state, name, None, int(request["signal"])))


def _on_set(state: Any, name: str, action: str, signal: int | None) -> dict[str, Any]:
    """The same change on a set of instances (NAME@1 ... NAME@N), as the CLI makes it (sets.py)."""
    from daemonctl import sets
    from daemonctl.schedule import default_schedule

    if action == "start":
        from daemonctl.options import StartOptions

        begun = sets.start_set(state, StartOptions(name=name), default_schedule(10.0))
        return {"name": name, "started": [_started(r) for r in begun.started],
                "already_running": [f"{name}@{i}" for i in begun.plan.keep]}
    if action == "stop":
        return {"name": name, "stopped": [_stopped(r) for r in sets.stop_set(state, name, default_schedule(10.0))]}
    if action == "restart":
        rolled = sets.restart_set(state, name, (), default_schedule(10.0))
        failure = rolled.failure()
        if failure is not None:
            raise failure
        return {"name": name, "restarted": [_started(r) for r in rolled.results]}
    assert signal is not None
    return {"name": name, "sent": [_sent(r) for r in sets.signal_set(state, name, int(signal))]}


def _stopped(result: Any) -> dict[str, Any]:
    return {"name": result.label, "pid": result.pid, "outcome": result.outcome,
            "supervisor_pid": result.supervisor_pid, "note": result.note}


def _sent(result: Any) -> dict[str, Any]:
    from daemonctl.signals import signal_name

    return {"name": result.label, "pid": result.pid, "signal": signal_name(result.signal).removeprefix("SIG")}


def _started(result: Any) -> dict[str, Any]:
    return {"name": result.name, "pid": result.pid, "already_running": result.already_running,
            "supervisor_pid": result.supervisor_pid}


def main() -> int:
    import signal

    # Started by serve, which blocks its stop signals in every thread: not here.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
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
