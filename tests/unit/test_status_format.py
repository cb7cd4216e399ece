from datetime import UTC, datetime

import pytest

from daemonctl.cli.status_text import describe, duration, uptime
from daemonctl.status import Report


@pytest.mark.parametrize("seconds,text", [(0, "0s"), (59, "59s"), (61, "1m01s"), (3600, "1h00m"), (90061, "1d01h"), (-5, "0s")])
def test_duration(seconds, text):
    assert duration(seconds) == text


def test_uptime_from_iso():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert uptime("2026-01-01T11:58:30+00:00", now) == "1m30s"
    assert uptime(None) == "-" and uptime("garbage") == "-"


def test_describe_and_exit_status():
    r = Report("web", "dead", 77, "/s/web.pid", ["x"], None, None, None, stale=True)
    assert "another process" in describe(r) and r.exit_status == 1
    assert Report("web", "stopped", None, "/p", [], None, None, None).exit_status == 3
    assert Report("web", "running", 5, "/p", [], None, None, None).to_json()["pid"] == 5
