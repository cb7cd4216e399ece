"""daemonctl against the floor (python3 -c 'import click') and the tools people use today.

Run with `make bench`. Prints medians of repeated runs, ratios to the floor and to
each peer found on this machine, the stop latency after the program's exit (also for a
daemon of 200 processes), status with the usage figures, and a 200-daemon scale run.
Figures, never assertions: a slow machine prints slow figures.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import median_ms, repeat, run  # noqa: E402
from peers import StartStopDaemon, Supervisor  # noqa: E402
from scale import scale_run  # noqa: E402
from latency import stop_latency  # noqa: E402
from cgroups import cgroup_bench  # noqa: E402
from resident import supervisor_rss  # noqa: E402
from instructions import instruction_ratios  # noqa: E402
from logs_tail import logs_tail  # noqa: E402
from instances import pool_rss, set_vs_separate  # noqa: E402
from logwriter import log_writer_bench  # noqa: E402

SLEEP = shutil.which("sleep") or "/bin/sleep"
TARGETS = {"--help": 1.2, "start": 1.3, "status": 1.3, "stop": 1.5}


def daemonctl_cmd() -> str:
    found = Path(sys.executable).parent / "daemonctl"
    return str(found) if found.exists() else (shutil.which("daemonctl") or "daemonctl")


def measure_daemonctl(dc: str, runs: int) -> dict[str, float]:
    """Medians of daemonctl's commands, and of the floor measured in the same rounds.

    Each round runs the floor, `--help` and a start-status-stop cycle, in an
    order shuffled per round: the machine's drift over the minutes of a run
    (large on a shared VM) then moves both sides alike, and neither always
    runs right after a stop, whose killed program the init process reaps late.
    """
    state = tempfile.mkdtemp(prefix="bench-dc-")
    base = [dc, "--state-dir", state]
    times: dict[str, list[float]] = {key: [] for key in ("floor", "--help", "start", "status", "stop", "cycle")}

    def cycle(i: int) -> None:
        name = f"b{i}"
        steps = (base + ["start", "-n", name, "--", SLEEP, "1000"], base + ["status", name], base + ["stop", name])
        taken = [run(cmd) for cmd in steps]
        for key, value in zip(("start", "status", "stop", "cycle"), (*taken, sum(taken))):
            times[key].append(value)

    units: list[Callable[[int], None]] = [
        lambda _: times["floor"].append(run([sys.executable, "-c", "import click"])),
        lambda _: times["--help"].append(run([dc, "--help"])),
        cycle,
    ]
    order = random.Random(5)  # the same orders every run
    try:
        for i in range(runs):
            order.shuffle(units)
            for unit in units:
                unit(i)
    finally:
        shutil.rmtree(state, ignore_errors=True)
    return {k: median_ms(v) for k, v in times.items()}


def table(rows: list[tuple[str, dict[str, float]]], floor: float) -> None:
    ours = rows[0][1]
    header = f"{'operation':<10}{'daemonctl':>11}{'x floor':>9}{'target':>8}"
    for peer, _ in rows[1:]:
        header += f"{peer:>19}{'ratio':>8}"
    print(header)
    for op in ("--help", "start", "status", "stop", "cycle"):
        value = ours[op]
        ratio = value / floor
        target = TARGETS.get(op)
        verdict = "" if target is None else ("  met" if ratio <= target else " MISS")
        line = f"{op:<10}{value:>9.1f}ms{ratio:>8.2f}x{(f'{target}x' if target else '-'):>8}"
        for _, peer in rows[1:]:
            if op in peer:
                line += f"{peer[op]:>17.1f}ms{value / peer[op]:>7.2f}x"
            else:
                line += f"{'-':>19}{'-':>8}"
        print(line + verdict)
    print(f"(ratio columns after a peer: daemonctl time / peer time; floor = python3 -c 'import click' = {floor:.1f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=25, help="repetitions per figure (median)")
    parser.add_argument("--daemons", type=int, default=200, help="daemons in the scale run")
    args = parser.parse_args()
    dc = daemonctl_cmd()
    print(f"daemonctl: {dc}\npython: {sys.executable} {sys.version.split()[0]}; {args.runs} runs per figure, medians\n")
    bare = repeat(lambda _: run([sys.executable, "-c", "pass"]), args.runs)
    ours = measure_daemonctl(dc, args.runs)
    floor = ours.pop("floor")
    rows = [("daemonctl", ours)]
    for peer in (StartStopDaemon(SLEEP), Supervisor(SLEEP)):
        if peer.available():
            rows.append((peer.label, peer.measure(args.runs)))
        else:
            print(f"({peer.label} not installed: column left out)")
    print(f"interpreter alone (python3 -c pass): {bare:.1f} ms\n")
    table(rows, floor)
    supervisor_rss(dc)
    for peer, figures in rows[1:]:
        if "resident_kib" in figures:
            print(f"{peer} keeps a server resident: {figures['resident_kib'] / 1024:.1f} MB RSS")
    print()
    instruction_ratios(dc)
    print()
    stop_latency(dc, args.runs)
    print()
    cgroup_bench(dc, args.runs)
    print()
    scale_run(dc, args.daemons)
    print()
    logs_tail(dc, args.runs)
    print()
    set_vs_separate(dc)
    pool_rss(dc)
    print()
    log_writer_bench(dc)


if __name__ == "__main__":
    main()
