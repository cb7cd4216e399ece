"""The log writer's cost: its throughput against a program writing straight to its file and against
the bare C relay `program | cat >> file` (what any pipe reader costs), and its resident memory.

The program writes 80-byte lines in 1 MiB writes, as fast as it can; a figure is the time from the
program's start until every byte is in the log (for daemonctl, until its writer has let go of the
daemon's writer lock), as MB/s. Medians of a few rounds, in a shuffled order per round so that
the machine's drift moves every variant alike. The logs go to a tmpfs (/dev/shm) where there is
one: on a disk, the dirty pages of one variant slow the next one down (writeback throttling),
which measures the disk, not the writer.
"""

from __future__ import annotations

import fcntl
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ENV, rss_kib

TOTAL = 1 << 30  # large enough that starting the processes is a small part of every figure
PROGRAM = f"""
import os
block = (b"x" * 79 + b"\\n") * 13107
left = {TOTAL}
while left > 0:
    left -= os.write(1, block[:left])
"""
RSS_TARGET_MB = 12.0
TARGETS = {"rotating": 0.5, "stamping": 1 / 3}


def _sizes(path: Path) -> int:
    total = 0
    for p in path.parent.glob(path.name + "*"):
        try:
            total += p.stat().st_size
        except FileNotFoundError:
            pass
    return total


def _drained(lock: Path) -> bool:
    try:
        fd = os.open(lock, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def _direct(work: Path) -> float:
    log = work / "direct.log"
    start = time.perf_counter()
    with open(log, "ab") as out:
        subprocess.run([sys.executable, "-c", PROGRAM], stdout=out, check=True, env=ENV)
    return time.perf_counter() - start


def _relay(work: Path) -> float:
    log = work / "relay.log"
    start = time.perf_counter()
    subprocess.run(["sh", "-c", f'"$0" -c "$1" | cat >> "$2"', sys.executable, PROGRAM, str(log)], check=True, env=ENV)
    return time.perf_counter() - start


def _daemonctl(dc: str, work: Path, name: str, opts: list[str]) -> float:
    state = work / "state"
    log = work / f"{name}.log"
    start = time.perf_counter()
    subprocess.run([dc, "--state-dir", str(state), "-q", "start", "-n", name, "-o", str(log), *opts, "--",
                    sys.executable, "-c", PROGRAM], check=True, env=ENV)
    lock = state / f"{name}.writer.lock"
    while not (_drained(lock) and _sizes(log) >= TOTAL):
        time.sleep(0.002)
    return time.perf_counter() - start


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_costs(work: Path) -> dict[str, float]:
    """CPU seconds the reading side spends on TOTAL bytes, whatever the machine's load: `cat` (the relay
    minus the program alone) and the writer's own code (its sink and pump, run here, in this process)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from daemonctl.supervise.logsink import LogSettings, build_sink
    from daemonctl.supervise.pump import Pump, widen

    before = _children_cpu()
    _direct(work)
    program = _children_cpu() - before
    before = _children_cpu()
    _relay(work)
    costs = {"cat": _children_cpu() - before - program}
    for key, extra in (("rotating", {"log_max_size": 16 << 20, "log_keep": 100}), ("stamping", {"log_timestamps": True})):
        record = {"name": "cpu", "stdout": str(work / f"cpu-{key}.log"), "stderr": str(work / f"cpu-{key}.log"), **extra}
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        widen(out_r)
        producer = subprocess.Popen([sys.executable, "-c", PROGRAM], stdout=out_w, env=ENV)
        os.close(out_w)
        os.close(err_w)
        sink = build_sink(LogSettings(record), None)
        start = time.process_time()
        Pump(sink, (out_r, err_r)).wait([], None)
        sink.close()
        costs[key] = time.process_time() - start
        producer.wait()
        for p in work.glob("cpu-*"):
            p.unlink()
    return costs


def _writer_rss(dc: str, work: Path) -> tuple[float | None, float | None]:
    """RSS of a plain daemon's writer and of a --respawn supervisor that writes the logs, in MB."""
    state = work / "rss"
    sleep = shutil.which("sleep") or "/bin/sleep"
    base = [dc, "--state-dir", str(state), "-q"]
    opts = ["--log-max-size", "10M", "--log-timestamps", "--syslog"]
    subprocess.run([*base, "start", "-n", "w", *opts, sleep, "1000"], check=True, env=ENV)
    subprocess.run([*base, "start", "-n", "s", "--respawn", *opts, sleep, "1000"], check=True, env=ENV)
    time.sleep(0.5)
    figures: list[float | None] = []
    try:
        lock = str(state / "w.writer.lock")
        writer = [int(p) for p in os.listdir("/proc") if p.isdigit() and _holds(int(p), lock)]
        kib = rss_kib(writer[0]) if writer else None
        figures.append(kib / 1024 if kib else None)
        import json

        sup = json.loads((state / "s.json").read_text())["supervisor_pid"]
        kib = rss_kib(sup)
        figures.append(kib / 1024 if kib else None)
    finally:
        for name in ("w", "s"):
            subprocess.run([*base, "stop", name], env=ENV)
    return figures[0], figures[1]


def _holds(pid: int, path: str) -> bool:
    """Whether process `pid` has `path` open (the writer holds its daemon's writer lock)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == path:
                return True
        except OSError:
            pass
    return False


def log_writer_bench(dc: str, rounds: int = 3) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-logw-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None))
    try:
        variants = {
            "direct": lambda i: _direct(work),
            "relay": lambda i: _relay(work),
            "rotating": lambda i: _daemonctl(dc, work, f"rot{i}", ["--log-max-size", "16M", "--log-keep", "100"]),
            "stamping": lambda i: _daemonctl(dc, work, f"st{i}", ["--log-timestamps"]),
        }
        times: dict[str, list[float]] = {key: [] for key in variants}
        for i in range(rounds):
            for key, measure in random.sample(list(variants.items()), len(variants)):
                times[key].append(measure(i))
                for p in work.glob("*.log*"):
                    p.unlink()
        rate = {key: TOTAL / statistics.median(values) / 1e6 for key, values in times.items()}
        print(f"log writer throughput ({TOTAL >> 20} MiB of 80-byte lines, median of {rounds}):")
        print(f"  program straight to its file: {rate['direct']:.0f} MB/s")
        print(f"  program | cat >> file:        {rate['relay']:.0f} MB/s")
        for key, label in (("rotating", "--log-max-size 16M (rotating)"), ("stamping", "--log-timestamps")):
            ratio = rate[key] / rate["relay"]
            verdict = "met" if ratio >= TARGETS[key] else "MISS"
            print(f"  daemonctl {label}: {rate[key]:.0f} MB/s = {ratio:.2f}x the relay "
                  f"(target {TARGETS[key]:.2f}x: {verdict})")
        costs = cpu_costs(work)
        print(f"  CPU for {TOTAL >> 20} MiB, load-independent: cat {costs['cat']:.2f} s; the writer's code "
              f"{costs['rotating']:.2f} s rotating ({costs['cat'] / costs['rotating']:.2f}x cat's rate), "
              f"{costs['stamping']:.2f} s stamping ({costs['cat'] / costs['stamping']:.2f}x)")
        writer, supervisor = _writer_rss(dc, work)
        for label, mb in (("log writer", writer), ("--respawn supervisor writing the logs", supervisor)):
            if mb is None:
                print(f"{label} resident memory: could not be read")
            else:
                print(f"{label} resident memory: {mb:.1f} MB RSS (target < {RSS_TARGET_MB:g} MB: "
                      f"{'met' if mb < RSS_TARGET_MB else 'MISS'})")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    log_writer_bench(sys.argv[1] if len(sys.argv) > 1 else "daemonctl")
