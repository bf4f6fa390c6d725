"""Idle intervals (``coldbench run --idle 5m,15m,30m,60m``): how they are written, read
and shown. The sweep itself: ``Measurement.idle`` (``measure/modes.py``) over a target's
``Target.idle``.

An idle sample is the second of two invocations of one function with nothing in between
(no invocation, no configuration change) for the interval: cold if the platform started
an environment for it, warm if the first invocation's environment was still there.
"""

from __future__ import annotations

from coldbench.errors import UsageError
from coldbench.model.intervals import LONGEST_S, interval_text, parse_interval

__all__ = ["LONGEST_S", "interval_text", "parse_intervals"]


def parse_intervals(text: str) -> tuple[float, ...]:
    """'5m,15m,1h' -> (300.0, 900.0, 3600.0): whole or decimal numbers with s, m or h,
    each above zero and at most a day; UsageError otherwise."""
    intervals = []
    for part in (p.strip() for p in text.split(",")):
        seconds = parse_interval(part)
        if seconds is None:
            raise UsageError(f"--idle: '{part}' is not a duration: write a number with s, m "
                             "or h, e.g. --idle 30s,5m,1h")
        if seconds <= 0:
            raise UsageError(f"--idle: {part} is no interval: each must be above zero")
        if seconds > LONGEST_S:
            raise UsageError(f"--idle: {part} is longer than a day, the longest interval "
                             "coldbench waits")
        intervals.append(seconds)
    return tuple(sorted(dict.fromkeys(intervals)))
