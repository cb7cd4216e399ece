"""What daemonctl keeps on disk: state dir, records, pidfiles, logs, and how they are opened. Never imports Click."""
