"""`python -m daemonctl` and the console script."""

from __future__ import annotations

import gc
import os
import sys


def main() -> None:
    # Importing Click and the CLI makes some 19,000 container objects that live as
    # long as the process: collecting while they are made only finds them all alive
    # (about 8 M instructions). Collect afterwards, among what the command makes.
    gc.disable()
    from daemonctl.cli.commands import main as run

    gc.freeze()
    gc.enable()
    code = run()
    # Leave without the interpreter's teardown of every module and object: it costs
    # more than all of a `status` check's own work, and nothing here needs it. Files
    # are closed or flushed below; locks, pidfds and sockets go with the process.
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        code = code or 1
    os._exit(code)


if __name__ == "__main__":
    main()
