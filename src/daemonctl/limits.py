"""The ranges start's numeric options take: checked by the command line and again by every record load."""

MAX_SECONDS = 1_000_000  # any time option (11.5 days); poll() takes at most 2**31 ms
MAX_COUNT = 2**31 - 1  # --max-restarts
NICE = (-20, 19)
MAX_INSTANCES = 1024  # --instances
