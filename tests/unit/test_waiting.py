import errno
import os

import pytest

from daemonctl.errors import Failure
from daemonctl.waiting import open_pidfd, wait_exit


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
