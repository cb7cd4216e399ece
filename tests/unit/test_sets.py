"""Operations on sets (sets.py) with the single-daemon operations replaced: what is started, in
which order, and what bad input stops before anything starts."""

import os

import pytest

from daemonctl.errors import Failure, NoProgram, UsageError
from daemonctl.options import StartOptions
from daemonctl.schedule import default_schedule
from daemonctl.sets import restart_set, set_members, start_set
from daemonctl.start import StartResult
from daemonctl.store.statedir import StateDir


@pytest.fixture
def state(tmp_path):
    return StateDir(str(tmp_path))


class Starter:
    def __init__(self, fail_at=None):
        self.calls, self.fail_at = [], fail_at

    def __call__(self, state, name, spec, progress):
        if name == self.fail_at:
            raise Failure(f"{name} failed")
        self.calls.append((name, spec))
        return StartResult(name, 1000 + len(self.calls), False, spec)


def opts(*program, **given):
    return StartOptions(program=program, **given)


def test_a_new_set_starts_each_instance_in_order_with_its_own_values(state):
    starter = Starter()
    result = start_set(state, opts("/bin/sleep", "%i", name="web", instances=3, ready_port="80%i"),
                       default_schedule(1), starter=starter)
    assert [name for name, _ in starter.calls] == ["web@1", "web@2", "web@3"]
    specs = [spec for _, spec in starter.calls]
    assert [s.ready_port for s in specs] == ["801", "802", "803"]
    assert [s.command for s in specs] == [["/bin/sleep", "1"], ["/bin/sleep", "2"], ["/bin/sleep", "3"]]
    assert [s.pidfile for s in specs] == [os.path.join(state.path, f"web@{i}.pid") for i in (1, 2, 3)]
    assert [s.env["DAEMONCTL_INSTANCE"] for s in specs] == ["1", "2", "3"]
    assert {s.env["DAEMONCTL_INSTANCES"] for s in specs} == {"3"}
    assert result.plan.start == [1, 2, 3] and result.stopped == []


def test_a_value_bad_for_one_instance_starts_none(state):
    starter = Starter()
    with pytest.raises(UsageError, match="web@6: --ready-port .*65536"):
        # 6553%i is a port for 1..5, not for 7
        start_set(state, opts("/bin/sleep", "1", name="web", instances=7, ready_port="6553%i"),
                  default_schedule(1), starter=starter)
    assert starter.calls == []


def test_a_set_name_with_at_starts_nothing(state):
    starter = Starter()
    with pytest.raises(UsageError):
        start_set(state, opts("/bin/sleep", "1", name="web@2", instances=2), default_schedule(1), starter=starter)
    assert starter.calls == []


def test_a_set_cannot_take_the_name_of_a_daemon(state):
    open(state.record("web"), "w").close()
    with pytest.raises(Failure, match="daemon of its own"):
        start_set(state, opts("/bin/sleep", "1", name="web", instances=2), default_schedule(1), starter=Starter())


def test_no_program_and_no_record_of_the_set(state):
    with pytest.raises(NoProgram):
        start_set(state, opts(name="web", instances=2), default_schedule(1), starter=Starter())


def test_a_failed_instance_fails_the_start(state):
    starter = Starter(fail_at="web@1")
    with pytest.raises(Failure, match="web@1 failed"):
        start_set(state, opts("/bin/sleep", "1", name="web", instances=3), default_schedule(1), starter=starter)
    assert starter.calls == []  # nothing after the first failure


def test_set_members_is_none_for_a_daemon_or_an_unknown_name(state):
    for name in ("web@1", "web@2", "api"):
        open(state.record(name), "w").close()
    assert set_members(state, "web") == {1: "web@1", 2: "web@2"}
    assert set_members(state, "api") is None
    assert set_members(state, "nothing") is None
    assert set_members(state, "web@1") is None


def test_rolling_restart_stops_at_the_first_instance_that_does_not_come_back(state):
    for i in (1, 2, 3, 4):
        open(state.record(f"web@{i}"), "w").close()
    done = []

    def restarter(state, name, program, schedule, update_env, progress):
        if name == "web@2":
            raise Failure("web@2 is not ready")
        done.append(name)
        return StartResult(name, 1, False, None)

    rolled = restart_set(state, "web", (), default_schedule(1), restarter=restarter)
    assert done == ["web@1"]
    assert rolled.failed is not None and rolled.failed.number == 2
    assert [r.name for r in rolled.results] == ["web@1"]


def test_an_interrupt_between_two_instances_undoes_the_start(state):
    import signal

    from daemonctl.errors import StartInterrupted
    from daemonctl.store.record import Record, save

    started = []

    def starter(state, name, spec, progress):
        save(state.record(name), Record(name, spec))  # a stopped record, as a start undone would leave one
        started.append(name)
        if name == "web@2":
            os.kill(os.getpid(), signal.SIGTERM)  # held back until this instance is started
        return StartResult(name, 1000, False, spec)

    with pytest.raises(StartInterrupted) as caught:
        start_set(state, opts("/bin/sleep", "1", name="web", instances=4), default_schedule(1), starter=starter)
    assert caught.value.exit_code == 128 + signal.SIGTERM
    assert started == ["web@1", "web@2"]  # web@3 never started
    assert not any(os.path.exists(state.record(f"web@{i}")) for i in (1, 2, 3, 4))


def test_a_roll_that_stopped_at_an_instance_ends_with_why_and_its_log():
    """The one message the CLI and the server both end a failed rolling restart with (sets.Rolled.failure)."""
    from daemonctl.errors import Failure
    from daemonctl.instances import Outcome
    from daemonctl.sets import Rolled

    assert Rolled("web", [], None).failure() is None
    failure = Rolled("web", [], Outcome(2, Failure("web@2 exited with status 3", ["bad config"]))).failure()
    assert isinstance(failure, Failure) and failure.log_tail == ["bad config"]
    assert failure.message == ("rolling restart of web stopped at web@2, which did not come back (web@2 exited "
                               "with status 3); the instances after it were left as they were")
    other = Rolled("web", [], Outcome(1, OSError(5, "Input/output error"))).failure()
    assert other is not None and "(web@1" not in other.message and "Input/output error" in other.message
