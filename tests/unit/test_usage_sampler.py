"""Usage of process groups from /proc, and the sampler that keeps the dashboard's history."""

import os

from daemonctl.proc.usage import CLK_TCK, PAGE, Usage, group_usage, parse_usage
from daemonctl.serve.sampler import Sampler


def stat_line(pid: int, pgid: int, utime: int, stime: int, rss: int, comm: str = "prog") -> str:
    fields = ["S", "1", str(pgid), str(pgid), "0", "-1", "0", "0", "0", "0", "0", str(utime), str(stime),
              "0", "0", "20", "0", "1", "0", "100", "1000", str(rss)] + ["0"] * 20
    return f"{pid} ({comm}) " + " ".join(fields)


def test_parse_usage_reads_after_the_last_parenthesis():
    pgid, usage = parse_usage(stat_line(7, 5, 150, 50, 10, comm="a) (b"))
    assert pgid == 5 and usage == Usage(200 / CLK_TCK, 10 * PAGE, 1)


def test_group_usage_sums_each_group(tmp_path):
    for pid, pgid, ut, rss in [(10, 10, 100, 4), (11, 10, 50, 6), (20, 20, 7, 1), (30, 30, 1, 1)]:
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(stat_line(pid, pgid, ut, 0, rss))
    (tmp_path / "self").mkdir()
    (tmp_path / "40").mkdir()  # gone meanwhile: no stat
    got = group_usage({10, 20, 99}, str(tmp_path))
    assert got == {10: Usage(150 / CLK_TCK, 10 * PAGE, 2), 20: Usage(7 / CLK_TCK, PAGE, 1)}
    assert group_usage(set(), str(tmp_path)) == {}


def test_group_usage_of_this_process():
    me = group_usage({os.getpgrp()})[os.getpgrp()]
    assert me.tasks >= 1 and me.memory > 0


class Fake:
    def __init__(self):
        self.now = 1000.0
        self.objects = []
        self.cpu = {}

    def usage(self, pgids):
        return {p: Usage(self.cpu[p], 1 << 20, 1) for p in pgids if p in self.cpu}


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
