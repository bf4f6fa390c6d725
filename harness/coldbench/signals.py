"""How a workflow ends when it is told to: SIGTERM as Ctrl-C, so that cleanup runs and
the samples taken so far stay.

Python raises the KeyboardInterrupt of a signal wherever the main thread is, and where that
is a callback that may not raise (the handlers the ``logging`` module runs around every
fork a subprocess makes with ``preexec_fn``; a finaliser), the interrupt is printed as
"Exception ignored" and lost: the run would go on. So a signal is also kept until
``check_interrupted`` acts on it, which the measurement loop calls before every sample."""

from __future__ import annotations

import signal
from contextlib import contextmanager

_pending: list[int] = []          # signals whose interrupt may not have been raised


def check_interrupted() -> None:
    """Raise the KeyboardInterrupt of a signal received inside ``sigterm_as_interrupt``
    whose own raise was lost; nothing otherwise."""
    if _pending:
        _pending.clear()
        raise KeyboardInterrupt


@contextmanager
def sigterm_as_interrupt():
    """SIGTERM ends a run like Ctrl-C does: cleanup runs, results so far stay. Both are
    kept until acted on (``check_interrupted``)."""
    def interrupt(signum, frame):
        _pending.append(signum)
        raise KeyboardInterrupt
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    for signum, handler in previous.items():
        if handler is not signal.SIG_IGN:       # an ignored Ctrl-C (a background job) stays so
            signal.signal(signum, interrupt)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _pending.clear()
