"""Processes: spawning, signals, privileges, /proc, pidfds, process groups. Never imports Click."""
