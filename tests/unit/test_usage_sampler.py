"""Usage of process groups from /proc, and the sampler that keeps the dashboard's history."""

import os

from daemonctl.proc.procfs import groups_members
from daemonctl.proc.usage import Usage
from daemonctl.serve.sampler import Sampler, group_usage


def stat_line(pid: int, pgid: int, state: str = "S") -> str:
    fields = [state, "1", str(pgid), str(pgid), "0", "-1", "0", "0", "0", "0", "0", "5", "5",
              "0", "0", "20", "0", "1", "0", "100", "1000", "4"] + ["0"] * 20
    return f"{pid} (a) (b) " + " ".join(fields)


def test_groups_members_in_one_scan(tmp_path):
    for pid, pgid, state in [(10, 10, "S"), (11, 10, "R"), (12, 10, "Z"), (20, 20, "S"), (30, 30, "S"), (2, 1, "S")]:
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(stat_line(pid, pgid, state))
    (tmp_path / "self").mkdir()
    (tmp_path / "40").mkdir()  # gone meanwhile: no stat
    got = groups_members({10, 20, 99, 1, 0}, str(tmp_path))
    assert {k: sorted(v) for k, v in got.items()} == {10: [10, 11], 20: [20]}  # no zombie, never init's group
    assert groups_members(set(), str(tmp_path)) == {}


def test_group_usage_of_this_process_group():
    me = group_usage({os.getpgrp()})[os.getpgrp()]
    assert me.tasks >= 1 and me.memory > 0 and me.cpu_seconds > 0


class Fake:
    def __init__(self):
        self.now = 1000.0
        self.objects = []
        self.cpu = {}

    def usage(self, pgids):
        return {p: Usage(tasks=1, memory=1 << 20, cpu_seconds=self.cpu[p]) for p in pgids if p in self.cpu}


def test_sampler_cpu_percent_memory_and_restarts():
    f = Fake()
    s = Sampler(lambda: f.objects, f.usage, lambda: f.now)
    f.objects = [{"name": "web", "state": "running", "pid": 50, "restarts": 0}]
    f.cpu[50] = 10.0
    s.sample()
    f.now, f.cpu[50] = 1002.0, 11.0  # one CPU second in two: 50 %
    s.sample()
    f.now = 1004.0
    f.objects = [{"name": "web", "state": "running", "pid": 60, "restarts": 1}]
    f.cpu[60] = 0.5
    s.sample()
    web = s.snapshot()["daemons"]["web"]
    assert web["points"] == [[1000.0, None, 1 << 20], [1002.0, 50.0, 1 << 20], [1004.0, None, 1 << 20]]
    assert web["restarts"] == [1004.0]


def test_sampler_prefers_the_status_figures_and_forgets_removed_daemons():
    f = Fake()
    s = Sampler(lambda: f.objects, f.usage, lambda: f.now)
    f.objects = [{"name": "db", "state": "running", "pid": 5, "cpu_seconds": 3.0, "memory": 777},
                 {"name": "old", "state": "stopped", "pid": None}]
    s.sample()
    f.now = 1001.0
    f.objects[0] = {**f.objects[0], "cpu_seconds": 3.25}
    s.sample()
    snap = s.snapshot()["daemons"]
    assert snap["db"]["points"][-1] == [1001.0, 25.0, 777]
    assert snap["old"]["points"] == [[1000.0, None, None], [1001.0, None, None]]
    f.objects = f.objects[:1]
    s.sample()
    assert list(s.snapshot()["daemons"]) == ["db"]
