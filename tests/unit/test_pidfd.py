import errno
import os
import subprocess

import pytest

from daemonctl.errors import Failure
from daemonctl.proc import pidfd
from daemonctl.proc.pidfd import open_pidfd, wait_exit
from daemonctl.proc.procfs import Identity


def test_kernel_without_pidfd_is_a_clear_failure(monkeypatch):
    def no_pidfd(pid):
        raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS))

    monkeypatch.setattr(os, "pidfd_open", no_pidfd)
    with pytest.raises(Failure, match="pidfd_open"):
        open_pidfd(os.getpid())


def test_a_process_that_is_gone_needs_no_waiting():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    assert open_pidfd(pid) is None
    assert wait_exit(pid, 5.0)


def test_a_live_process_is_waited_for_until_the_timeout():
    assert not wait_exit(os.getpid(), 0.01)


def test_identity_is_checked_again_after_the_pidfd_is_opened(monkeypatch):
    """The PID changed hands between the identity check and pidfd_open: only a check made
    after opening can see it; the stranger's pidfd is then closed, never returned."""
    stranger_fd, other_end = os.pipe()  # stands for the pidfd of the process that got the PID
    opened = []

    def open_pidfd_(pid):
        opened.append(pid)
        return stranger_fd

    # The daemon until the pidfd is opened, a stranger from then on.
    monkeypatch.setattr(pidfd, "open_pidfd", open_pidfd_)
    monkeypatch.setattr(pidfd, "is_alive", lambda identity: not opened)
    try:
        assert pidfd.open_verified(Identity(4321, 777, "boot")) is None
        assert opened == [4321]
        with pytest.raises(OSError):
            os.fstat(stranger_fd)  # closed by open_verified
    finally:
        os.close(other_end)


def test_a_pidfd_is_opened_only_for_the_process_of_the_identity():
    child = subprocess.Popen(["sleep", "300"])
    try:
        me = Identity.of(child.pid)
        fd = pidfd.open_verified(me)
        assert fd is not None
        os.close(fd)
        assert pidfd.open_verified(me._replace(starttime=me.starttime + 1)) is None
        assert pidfd.open_verified(me._replace(boot_id="another boot")) is None
    finally:
        child.kill()
        child.wait()
    assert pidfd.open_verified(me) is None
