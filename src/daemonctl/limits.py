"""The ranges start's numeric options take: checked by the command line and again by every record load."""

MAX_SECONDS = 1_000_000  # any time option (11.5 days); poll() takes at most 2**31 ms
MAX_COUNT = 2**31 - 1  # --max-restarts
NICE = (-20, 19)
MAX_INSTANCES = 1024  # --instances
MAX_LOG_SIZE = 1 << 50  # --log-max-size (1 PiB)
MAX_LOG_KEEP = 1000  # --log-keep: each rotation renames every kept file
# --syslog's facilities, by the numbers syslog(3) gives them.
SYSLOG_FACILITIES = {
    "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
    "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
    **{f"local{n}": 16 + n for n in range(8)},
}
