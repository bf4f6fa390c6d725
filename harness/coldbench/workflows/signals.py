"""How a workflow ends when it is told to: SIGTERM as Ctrl-C, so that cleanup runs and
the samples taken so far stay."""

from __future__ import annotations

import signal
from contextlib import contextmanager


@contextmanager
def sigterm_as_interrupt():
    """SIGTERM ends a run like Ctrl-C does: cleanup runs, results so far stay."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
