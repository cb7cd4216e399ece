"""Long waits on a terminal: one line saying what is awaited and for how long, updated in
place and cleared when the wait ends. Only where stderr is a terminal and not -q."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from daemonctl.progress import Event, Progress, Readying, Stopping

DELAY = 1.0  # a wait shorter than this shows nothing: no flicker for quick stops and starts
CLEAR = "\r\x1b[K"  # to the start of the line, and erase it


class ProgressLine:
    """A Progress callback that keeps one line of `stream` up to date."""

    def __init__(self, name: str, stream: IO[str], delay: float = DELAY) -> None:
        self.name, self.stream, self.delay = name, stream, delay
        self.shown = ""

    def __call__(self, event: Event) -> None:
        if _elapsed(event) < self.delay:
            return
        text = describe(self.name, event)
        if text != self.shown:
            self.stream.write(CLEAR + _fit(text, self.stream))
            self.stream.flush()
            self.shown = text

    def clear(self) -> None:
        if self.shown:
            self.stream.write(CLEAR)
            self.stream.flush()
            self.shown = ""


def describe(name: str, event: Event) -> str:
    if isinstance(event, Stopping):
        then = f"{_signal(event.next_signal)} in" if event.next_signal is not None else "giving up in"
        return (f"waiting for {name} to exit: {_signal(event.signal)} sent {int(event.sent_ago)} s ago, "
                f"{then} {math.ceil(event.next_in)} s")
    if isinstance(event, Readying):
        return (f"waiting for {name} to be ready: {' and '.join(event.awaited)}, "
                f"{int(event.elapsed)} s of {event.timeout:.0f}")
    return f"waiting to see {name} stay up: {int(event.elapsed)} s of {event.total:g}"


def _elapsed(event: Event) -> float:
    return event.sent_ago if isinstance(event, Stopping) else event.elapsed


def _signal(number: int) -> str:
    from daemonctl.signals import signal_name

    return signal_name(number).removeprefix("SIG")


def _fit(text: str, stream: IO[str]) -> str:
    """No wider than the terminal: a wrapped line could not be updated in place."""
    try:
        width = os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError):
        return text
    if width <= 0 or len(text) < width:  # 0: a terminal that does not say
        return text
    return text[: max(width - 2, 1)] + "…"


@contextmanager
def progress_line(name: str, stream: IO[str]) -> Iterator[Progress]:
    """A ProgressLine on the terminal `stream` for the body; cleared at the end (commands.progress_for
    decides whether there is one)."""
    line = ProgressLine(name, stream)
    try:
        yield line
    finally:
        line.clear()


