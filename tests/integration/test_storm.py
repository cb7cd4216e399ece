"""Issue 10: a bounded storm of parallel commands on one name, and daemonctl SIGKILLed at
random moments. Afterwards: at most one program per name, status agrees with /proc,
no process is left that the record does not name, and no output holds a traceback.

The program leads a group with a child in it, so leftovers of a dead leader exist.
Both tests are bounded (rounds, not time) and stay well under a minute.
"""
import json
import os
import random
import signal
import subprocess
import time

import pytest

from .helpers import SH, SLEEP, alive, cmdline, proc_stat, wait_for

pytestmark = pytest.mark.integration

NAME = "s"
PROGRAM = [SH, "-c", f"{SLEEP} 300 & exec {SLEEP} 300"]
RESPAWN = ["--respawn", "--restart-delay", "0.05", "--max-restarts", "0"]


def start_args(respawn: bool) -> list[str]:
    return ["start", "-n", NAME, *(RESPAWN if respawn else []), *PROGRAM]


def commands(respawn: bool) -> list[list[str]]:
    return [start_args(respawn), ["stop", "-t", "2", NAME], ["restart", "-t", "2", NAME],
            ["status", NAME], ["signal", NAME, "HUP"], ["remove", NAME], ["start", "-n", NAME]]


def is_supervisor(pid: int) -> bool:
    return "daemonctl.supervise.resident" in cmdline(pid)


def settled_pids(dctl) -> list[int]:
    """The test's processes once no half-started grandchild (still daemonctl) is left."""
    def settled():
        pids = dctl.token_pids()
        # A supervisor's child that still runs the supervisor's code has not exec'd yet.
        ok = all(cmdline(p)[:1] in ([SLEEP], [SH])
                 or (is_supervisor(p) and not is_supervisor((proc_stat(p) or {}).get("ppid", 0))) for p in pids)
        return (pids,) if ok else None

    found = wait_for(settled, timeout=15)
    assert found is not None, f"half-started processes stay: {[cmdline(p) for p in dctl.token_pids()]}"
    return found[0]


def check_invariants(dctl, outputs: list[subprocess.CompletedProcess]) -> None:
    for cp in outputs:
        assert "Traceback" not in cp.stderr + cp.stdout, cp
    pids = settled_pids(dctl)
    try:
        rec = json.loads(dctl.recordfile(NAME).read_text())
    except FileNotFoundError:
        rec = None
    named = set()
    if rec is not None and rec["state"] in ("running", "restarting"):
        for p in pids:
            st = proc_stat(p) or {}
            if p == rec.get("supervisor_pid") or (st.get("pgrp") == rec["pid"] and st.get("session") == rec.get("sid")):
                named.add(p)
    unnamed = [(p, cmdline(p), proc_stat(p)) for p in pids if p not in named]
    assert not unnamed, f"processes no record names: {unnamed}; record {rec}"
    groups = {(proc_stat(p) or {}).get("pgrp") for p in pids if not is_supervisor(p)}
    assert len(groups - {None}) <= 1, f"two programs for one name: {groups}"
    st = dctl("status", NAME)
    assert "Traceback" not in st.stderr
    if rec is None or rec["state"] not in ("running", "restarting"):
        assert st.returncode in (1, 3), st
    elif rec.get("supervisor_pid"):
        assert (st.returncode == 0) == alive(rec["supervisor_pid"]), (st, rec)
    else:
        assert (st.returncode == 0) == alive(rec["pid"]), (st, rec)


def finish(dctl) -> None:
    cp = dctl("stop", "-t", "2", NAME)
    assert cp.returncode == 0 and "Traceback" not in cp.stderr, cp
    assert settled_pids(dctl) == [], "stop left processes behind"


@pytest.mark.parametrize("respawn", [False, True], ids=["plain", "respawn"])
def test_storm_of_parallel_commands_on_one_name(dctl, respawn):
    rng = random.Random(os.environ.get("DAEMONCTL_STORM_SEED", "issue-10"))
    outputs = []
    for _ in range(12):
        batch = [rng.choice(commands(respawn)) for _ in range(6)] + [start_args(respawn)]
        procs = [dctl.popen(*args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for args in batch]
        for args, proc in zip(batch, procs, strict=True):
            out, err = proc.communicate(timeout=60)
            outputs.append(subprocess.CompletedProcess(args, proc.returncode, out, err))
        check_invariants(dctl, outputs)
    finish(dctl)


@pytest.mark.parametrize("respawn", [False, True], ids=["plain", "respawn"])
def test_daemonctl_killed_at_random_moments(dctl, respawn):
    seed = os.environ.get("DAEMONCTL_KILL_SEED", "issue-10")
    rng = random.Random(seed)
    choices = [start_args(respawn), ["stop", "-t", "2", NAME], ["restart", "-t", "2", NAME]]
    outputs = []
    for _ in range(30):
        args = rng.choice(choices)
        proc = dctl.popen(*args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(0, 0.25))  # a random moment is the point here
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
        outputs.append(subprocess.CompletedProcess(args, proc.returncode, out, err))
        check_invariants(dctl, outputs)
    finish(dctl)
