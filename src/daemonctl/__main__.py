"""`python -m daemonctl` and the console script (its speedups: daemonctl/speedups.py)."""

from __future__ import annotations

from daemonctl.cli.speedups import console_script


def main() -> None:
    console_script()


if __name__ == "__main__":
    main()
