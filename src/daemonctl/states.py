"""Every state a daemon can be in, by who says so: the record, status, a stop, the supervisor.

Plain strings, dependency-free: the record holds them, `status --json` prints them,
and the resident supervisor writes them. The same word may serve two vocabularies
("stopped": what a record says, and what status reports of a daemon that nothing
says should run); each meaning has its own name here.
"""

# What a record's "state" field says: what daemonctl last did with the daemon.
RUNNING = "running"  # started: the recorded process is the daemon (or its supervisor's child)
STOPPED = "stopped"  # stopped by daemonctl, or a start undone (also a new record's default)
RESTARTING = "restarting"  # --respawn: the supervisor waits out a restart delay
EXITED = "exited"  # --respawn: the program ended and the policy does not restart it
FAILED = "failed"  # --respawn: the supervisor gave up
RECORDED = (RUNNING, STOPPED, RESTARTING, EXITED, FAILED)
ACTIVE = (RUNNING, RESTARTING)  # a record whose processes may be alive: only these may be signalled

# What status reports: the record reconciled with the pidfile and the live process.
# RUNNING, RESTARTING, EXITED and FAILED as recorded, and:
DEAD = "dead"  # the record or pidfile says it runs, and it does not
NOT_RUNNING = "stopped"  # nothing runs and nothing says it should (a STOPPED record, or only a name)
UNKNOWN = "unknown"  # the record or the pidfile cannot be read
REPORTED = (RUNNING, RESTARTING, DEAD, NOT_RUNNING, EXITED, FAILED, UNKNOWN)

# How a stop ended (the CLI words each).
HALTED = "halted"  # it ran, and it is gone now
WAS_NOT_RUNNING = "not-running"  # nothing of it ran
STALE = "stale"  # not running; the pidfile's PID was another process's, and the pidfile is removed
NO_SUCH_DAEMON = "no-such-daemon"  # no record and no pidfile by that name

# How a resident supervisor's loop ended, besides a recorded STOPPED, EXITED or FAILED.
LOST = "lost"  # the record is no longer this supervisor's (another start replaced it)
DETACHED = "detached"  # `stop` took the daemon over; the supervisor only wrote the logs to their end
