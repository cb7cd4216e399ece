import io

from daemonctl.cli.table import render, use_colour
from daemonctl.status import Report


def report(name, state, command, pid=None):
    return Report(name, state, pid, f"/s/{name}.pid", command, None, None, None)


REPORTS = [report("web", "running", ["python3", "-m", "http.server", "8000"], pid=4242),
           report("a-much-longer-name", "stopped", ["sleep", "1"])]


def test_columns_are_aligned_under_the_header():
    header, *rows = render(REPORTS, width=200)
    assert header.split() == ["NAME", "STATE", "PID", "UPTIME", "RESTARTS", "COMMAND"]
    command_at = header.index("COMMAND")
    assert rows[0][command_at:] == "python3 -m http.server 8000" and rows[1][command_at:] == "sleep 1"
    assert rows[0].index("running") == rows[1].index("stopped") == header.index("STATE")
    assert rows[0][: header.index("PID") + 3].endswith("4242")  # right-aligned number
    assert "4242" not in rows[1]


def test_lines_are_cut_to_the_width():
    lines = render(REPORTS, width=40)
    assert all(len(line) <= 40 for line in lines)
    assert lines[1].endswith("...")


def test_colour_only_on_a_terminal_and_never_with_no_color():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    assert use_colour(Tty(), {}) and not use_colour(io.StringIO(), {})
    assert not use_colour(Tty(), {"NO_COLOR": "1"})
    coloured = render(REPORTS, width=200, colour=True)
    assert "\x1b[" in coloured[1] and "\x1b[" not in coloured[0]
    assert "\x1b[" not in "".join(render(REPORTS, width=200))
