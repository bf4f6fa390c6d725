"""Idle intervals (``coldbench run --idle 5m,15m,30m,60m``): how they are written, read
and shown. The sweep itself: ``Measurement.idle`` (``measure/modes.py``) over a target's
``Target.idle``.

An idle sample is the second of two invocations of one function with nothing in between
(no invocation, no configuration change) for the interval: cold if the platform started
an environment for it, warm if the first invocation's environment was still there.
"""

from __future__ import annotations

import re

from coldbench.errors import UsageError

_UNITS = {"s": 1, "m": 60, "h": 3600}
_DURATION = re.compile(r"^(?P<number>\d+(?:\.\d+)?)(?P<unit>[smh])$")
# Lambda keeps no environment longer than a few hours; an interval past a day measures
# nothing the shorter ones would not, and would keep a run (and its functions) for days.
LONGEST_S = 24 * 3600


def parse_intervals(text: str) -> tuple[float, ...]:
    """'5m,15m,1h' -> (300.0, 900.0, 3600.0): whole or decimal numbers with s, m or h,
    each above zero and at most a day; UsageError otherwise."""
    intervals = []
    for part in (p.strip() for p in text.split(",")):
        match = _DURATION.match(part.lower())
        if not match:
            raise UsageError(f"--idle: '{part}' is not a duration: write a number with s, m "
                             "or h, e.g. --idle 30s,5m,1h")
        seconds = float(match["number"]) * _UNITS[match["unit"]]
        if seconds <= 0:
            raise UsageError(f"--idle: {part} is no interval: each must be above zero")
        if seconds > LONGEST_S:
            raise UsageError(f"--idle: {part} is longer than a day, the longest interval "
                             "coldbench waits")
        intervals.append(seconds)
    return tuple(sorted(dict.fromkeys(intervals)))


def interval_text(seconds: float) -> str:
    """300.0 -> '5m', 3600.0 -> '1h', 90.0 -> '90s', 0.2 -> '0.2s': the largest unit that
    writes it as a whole number, else seconds."""
    for unit, size in sorted(_UNITS.items(), key=lambda item: -item[1]):
        if seconds >= size and float(seconds / size).is_integer():
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


VARIANT = re.compile(r"(?:^| )idle (?P<interval>\S+)$")


def variant(base: str | None, seconds: float) -> str:
    """The variant of an idle sample's configuration: its own, then "idle 5m" (never pooled
    with the configuration's forced cold samples)."""
    return " ".join(v for v in (base, f"idle {interval_text(seconds)}") if v)
