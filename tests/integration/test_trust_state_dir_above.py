"""Issue 10, leftovers: the state directory is trusted only if no one else can swap it.

Records say what root runs and as whom, and the supervisor and every command read them
as root. A state directory of root's, mode 0755, inside a directory another user may
change (its home, say) can be renamed away by that user and replaced by one of its own:
it is refused like a state directory that user owns.

(Names avoid the words the PID-namespace re-run selects by.)
"""
import os

import pytest

from .helpers import SLEEP, alive, assert_ok, assert_one_error

pytestmark = pytest.mark.integration

NOBODY = 65534


@pytest.mark.parametrize("how", ["owned", "world-writable"])
def test_state_dir_inside_a_directory_others_may_change_is_refused(dctl, top, how):
    above = top / "home"
    above.mkdir()
    if how == "owned":
        os.chown(above, NOBODY, NOBODY)
    else:
        above.chmod(0o777)
    state = above / "state"
    state.mkdir(mode=0o755)  # root's own, not writable by others: only what is above it is wrong
    for args in (["start", "-n", "t", SLEEP, "300"], ["status"], ["stop", "t"], ["logs", "t"]):
        cp = dctl(*args, state_dir=state)
        assert_one_error(cp, 4)
        assert "refusing" in cp.stderr and str(above) in cp.stderr
    assert os.listdir(state) == []


def test_state_dir_is_not_created_inside_a_directory_others_may_change(dctl, top):
    above = top / "home"
    above.mkdir()
    os.chown(above, NOBODY, NOBODY)
    cp = dctl("start", "-n", "t", SLEEP, "300", state_dir=above / "state")
    assert_one_error(cp, 4)
    assert "refusing" in cp.stderr and str(above) in cp.stderr
    assert os.listdir(above) == []


def test_state_dir_through_a_link_in_a_users_directory_is_refused(dctl, top):
    """The path goes through the user's directory, though the directory it names is root's."""
    real = top / "real"
    real.mkdir(mode=0o755)
    above = top / "home"
    above.mkdir()
    os.chown(above, NOBODY, NOBODY)
    (above / "state").symlink_to(real)
    cp = dctl("start", "-n", "t", SLEEP, "300", state_dir=above / "state")
    assert_one_error(cp, 4)
    assert os.listdir(real) == []


def test_state_dir_in_a_sticky_directory_is_fine(dctl, top):
    """/tmp-like: no one may rename what is not theirs."""
    top.chmod(0o1777)
    state = top / "state"
    d = dctl.with_state_dir(state)
    pid = d.start("t", SLEEP, "300")
    assert_ok(d("stop", "t"))
    assert not alive(pid)
