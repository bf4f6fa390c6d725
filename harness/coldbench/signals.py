"""How a workflow ends when it is told to: SIGTERM as Ctrl-C, so that cleanup runs and
the samples taken so far stay.

Python raises the KeyboardInterrupt of a signal wherever the main thread is, and where that
is a callback that may not raise (the handlers the ``logging`` module has ``os.fork`` run
around every fork, a launcher's among them; a finaliser), the interrupt is printed as
"Exception ignored" and lost: the run would go on. So a signal is also kept until
``check_interrupted`` acts on it, which the measurement loop calls before every sample, and
where the main thread forks it is held until the fork has returned (``interrupts_held``)."""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager

_pending: list[int] = []          # signals whose interrupt may not have been raised
_holding: list[int] = []          # the process whose main thread is inside ``interrupts_held``


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
        if os.getpid() not in _holding:
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


@contextmanager
def interrupts_held():
    """A signal that comes inside is not raised there but kept for ``check_interrupted``:
    for a call that runs callbacks which may not raise (``os.fork``). Python runs every
    signal's handler in the main thread, so only the main thread holds. A forked child is
    not held: its copy of the handler raises as before."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _holding.append(os.getpid())
    try:
        yield
    finally:
        _holding.pop()
