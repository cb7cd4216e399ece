"""Signal names and numbers as users write them: HUP, SIGHUP, 1."""

from __future__ import annotations

import signal


def parse_signal(text: str) -> int:
    """The signal number for 'HUP', 'SIGHUP', 'hup' or '1'; ValueError when unknown."""
    candidate = text.strip()
    if candidate.isdigit():
        number = int(candidate)
        if number in {int(s) for s in signal.valid_signals()} and number > 0:
            return number
        raise ValueError(f"unknown signal {text!r}")
    upper = candidate.upper()
    if not upper.startswith("SIG"):
        upper = "SIG" + upper
    if upper not in signal.Signals.__members__:
        raise ValueError(f"unknown signal {text!r}")
    return int(signal.Signals[upper])


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
