"""daemonctl: run any command as a proper Unix daemon, and stop it reliably."""

__version__ = "0.1.0"
