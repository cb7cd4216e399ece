"""CONTRACT "remove": a forgotten daemon leaves nothing of its own in the state directory but its logs."""
import pytest

from .helpers import SLEEP, assert_ok, wait_gone

pytestmark = pytest.mark.integration


def entries(dctl) -> list[str]:
    return sorted(p.name for p in dctl.state_dir.iterdir())


@pytest.mark.parametrize("opts", [(), ("--log-timestamps",), ("--respawn",), ("--respawn", "--log-timestamps")],
                         ids=["plain", "log-writer", "respawn", "respawn-log-writer"])
def test_remove_leaves_only_the_log(dctl, opts):
    dctl.start("web", SLEEP, "300", opts=opts)
    assert "web.lock" in entries(dctl)
    assert_ok(dctl("stop", "web"))
    assert_ok(dctl("remove", "web"))
    assert entries(dctl) == ["web.log"]


@pytest.mark.parametrize("opts", [(), ("--respawn",), ("--log-timestamps",)], ids=["plain", "respawn", "log-writer"])
def test_remove_of_a_set_leaves_only_the_logs(dctl, opts):
    assert_ok(dctl("start", "-n", "web", "--instances", "2", *opts, SLEEP, "300"))
    for i in (1, 2):
        dctl.track(dctl.pid(f"web@{i}"))
    assert_ok(dctl("stop", "web"))
    assert_ok(dctl("remove", "web"))
    assert entries(dctl) == ["web@1.log", "web@2.log"]


def test_remove_of_one_instance_leaves_the_others_locks(dctl):
    assert_ok(dctl("start", "-n", "web", "--instances", "2", SLEEP, "300"))
    for i in (1, 2):
        dctl.track(dctl.pid(f"web@{i}"))
    assert_ok(dctl("stop", "web@2"))
    assert_ok(dctl("remove", "web@2"))
    assert entries(dctl) == ["web@1.json", "web@1.lock", "web@1.log", "web@1.pid", "web@2.log"]


def test_scaling_a_respawned_set_down_leaves_only_the_logs_of_the_instances_let_go(dctl):
    # The set's supervisor, seeing web@2's and web@3's programs end, looked at their locks after
    # the scale-down had removed them, and so made web@2.lock and web@3.lock again.
    assert_ok(dctl("start", "-n", "web", "--instances", "3", "--respawn", SLEEP, "300"))
    sup = dctl.track(dctl.record("web@1")["supervisor_pid"])
    for i in (1, 2, 3):
        dctl.track(dctl.pid(f"web@{i}"))
    assert_ok(dctl("start", "-n", "web", "--instances", "1", "--respawn", SLEEP, "300"))
    # Stopping the last one ends the supervisor, which lets an instance go only once it dealt with it.
    assert_ok(dctl("stop", "web@1"))
    assert wait_gone(sup, timeout=30), "the set's supervisor outlived its last instance"
    assert entries(dctl) == ["web@1.json", "web@1.lock", "web@1.log", "web@2.log", "web@3.log"]
    assert_ok(dctl("remove", "web"))
    assert entries(dctl) == ["web@1.log", "web@2.log", "web@3.log"]


def test_remove_of_a_corrupt_record_leaves_only_the_log(dctl):
    dctl.start("web", SLEEP, "300")
    assert_ok(dctl("stop", "web"))
    dctl.recordfile("web").write_text("{not json")
    assert_ok(dctl("remove", "web"))
    assert entries(dctl) == ["web.log"]


def test_a_daemon_removed_and_started_again_is_locked_as_before(dctl):
    dctl.start("web", SLEEP, "300")
    assert_ok(dctl("stop", "web"))
    assert_ok(dctl("remove", "web"))
    dctl.start("web", SLEEP, "300")
    assert "web.lock" in entries(dctl)
    assert_ok(dctl("start", "-n", "web", SLEEP, "300"))  # already running: the lock and record found again
    assert_ok(dctl("stop", "web"))
    assert_ok(dctl("remove", "web"))
    assert entries(dctl) == ["web.log"]
