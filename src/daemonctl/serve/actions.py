"""The server's side of a change: hand it to a worker process (worker.py) and read its answer."""

import json
import subprocess
import sys
import threading
from typing import Any

from daemonctl.exitcodes import ExitStatus

MAX_WORKERS = 4  # changes run at once; more wait their turn
_slots = threading.BoundedSemaphore(MAX_WORKERS)


def run_action(state_dir: str, action: str, name: str, signal: int | None = None) -> dict[str, Any]:
    """The worker's answer: {"exit": CODE, "result": {...}} or {"exit": CODE, "error": "...", "log_tail": [...]}."""
    request = json.dumps({"state_dir": state_dir, "action": action, "name": name, "signal": signal})
    # -P: the server's working directory is not searched for modules.
    argv = [sys.executable, "-P", "-m", "daemonctl.serve.worker"]
    with _slots:
        return _run(argv, request)


def _run(argv: list[str], request: str) -> dict[str, Any]:
    try:
        done = subprocess.run(argv, input=request.encode(), stdout=subprocess.PIPE, check=False)
    except OSError as err:
        return {"exit": ExitStatus.FAILURE, "error": f"cannot run the worker {argv[0]}: {err.strerror}"}
    try:
        answer = json.loads(done.stdout)
        if not isinstance(answer, dict) or not isinstance(answer.get("exit"), int):
            raise ValueError(answer)
    except ValueError:
        how = f"exit status {done.returncode}" if done.returncode >= 0 else f"signal {-done.returncode}"
        return {"exit": ExitStatus.FAILURE, "error": f"the worker ended without an answer ({how})"}
    return answer
