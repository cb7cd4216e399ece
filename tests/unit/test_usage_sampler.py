"""The sampler that keeps the dashboard's history, from the figures of `status --json`."""

from daemonctl.serve.sampler import Sampler


class Fake:
    def __init__(self):
        self.now = 1000.0
        self.objects = []


def running(name: str, pid: int, cpu: float | None, memory: int | None = 1 << 20, restarts: int | None = None) -> dict:
    obj = {"name": name, "state": "running", "pid": pid, "cpu_seconds": cpu, "memory": memory}
    if restarts is not None:
        obj["restarts"] = restarts
    return obj


def test_sampler_cpu_percent_memory_and_restarts():
    f = Fake()
    s = Sampler(lambda: f.objects, lambda: f.now)
    f.objects = [running("web", 50, 10.0, restarts=0)]
    s.sample()
    f.now, f.objects = 1002.0, [running("web", 50, 11.0, restarts=0)]  # one CPU second in two: 50 %
    s.sample()
    f.now, f.objects = 1004.0, [running("web", 60, 0.5, restarts=1)]  # restarted: a new program
    s.sample()
    f.now, f.objects = 1006.0, [running("web", 60, 0.25, restarts=1)]  # a child exited: never below 0
    s.sample()
    web = s.snapshot()["daemons"]["web"]
    assert web["points"] == [[1000.0, None, 1 << 20], [1002.0, 50.0, 1 << 20], [1004.0, None, 1 << 20],
                             [1006.0, 0.0, 1 << 20]]
    assert web["restarts"] == [1004.0]


def test_a_new_pid_without_a_restart_count_is_a_restart_too():
    f = Fake()
    s = Sampler(lambda: f.objects, lambda: f.now)
    f.objects = [running("db", 5, 1.0)]
    s.sample()
    f.now, f.objects = 1001.0, [{"name": "db", "state": "stopped", "pid": None}]
    s.sample()
    f.now, f.objects = 1002.0, [running("db", 6, 0.0)]  # stopped, then started again: not a restart seen
    s.sample()
    f.now, f.objects = 1003.0, [running("db", 7, 0.0)]  # another PID from one tick to the next: restarted
    s.sample()
    assert s.snapshot()["daemons"]["db"]["restarts"] == [1003.0]


def test_unknown_figures_and_removed_daemons():
    f = Fake()
    s = Sampler(lambda: f.objects, lambda: f.now)
    f.objects = [running("db", 5, None, None), {"name": "old", "state": "stopped", "pid": None}]
    s.sample()
    f.now = 1001.0
    s.sample()
    snap = s.snapshot()["daemons"]
    assert snap["db"]["points"] == [[1000.0, None, None], [1001.0, None, None]]
    assert snap["old"]["points"] == [[1000.0, None, None], [1001.0, None, None]]
    f.objects = f.objects[:1]
    s.sample()
    assert list(s.snapshot()["daemons"]) == ["db"]
