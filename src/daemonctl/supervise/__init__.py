"""`start --respawn`: the restart policy, the loop, the resident process and the client side. Never imports Click."""

import os


def resident_environ() -> dict[str, str]:
    """The environment of a resident process daemonctl starts (supervisor, log writer): the caller's, and
    glibc told to keep up to 8 MiB free at the top of the heap rather than hand it back at every free.

    Copying logs allocates and frees a few buffers of 32 to 50 KiB per read. Where they sit at the
    top of the heap, glibc's default (trim above 128 KiB) returned their pages and faulted them in
    again on the next read: 343,000 page faults and twice the CPU for 1 GiB stamped, whenever
    nothing else happened to lie above them. glibc reads this before the interpreter starts;
    other C libraries ignore it. The programs the supervisor starts get their own environment.
    """
    return {**os.environ, "MALLOC_TRIM_THRESHOLD_": str(8 << 20)}
