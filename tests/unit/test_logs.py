from daemonctl.logs import Follower, follow, tail


def test_tail_last_lines(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("".join(f"line {i}\n" for i in range(5000)))
    assert tail(log, 3) == ["line 4997", "line 4998", "line 4999"]
    assert tail(log, 0) == []
    assert tail(tmp_path / "missing.log", 3) == []


def test_tail_without_final_newline_and_short_file(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("a\nb")
    assert tail(log, 10) == ["a", "b"]


def test_follower_sees_appends_rename_and_truncation(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("old\n")
    f = Follower(log)
    assert f.read() == b""
    with open(log, "a") as w:
        w.write("one\n")
    assert f.read() == b"one\n"
    with open(log, "a") as w:
        w.write("before-rename\n")
    log.rename(tmp_path / "x.log.1")
    log.write_text("new\n")
    assert f.read() == b"before-rename\nnew\n"
    log.write_text("")  # truncated in place, seen by a poll before it grows again
    assert f.read() == b""
    with open(log, "a") as w:
        w.write("after\n")
    assert f.read() == b"after\n"
    f.close()


def test_follow_writes_and_sleeps_with_injected_sleep(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("")
    got, slept = [], []

    def sleep(seconds):
        slept.append(seconds)
        with open(log, "a") as w:
            w.write(f"tick {len(slept)}\n")

    follow(log, got.append, interval=0.5, sleep=sleep, rounds=3)
    assert b"".join(got) == b"tick 1\ntick 2\n" and slept == [0.5, 0.5, 0.5]
