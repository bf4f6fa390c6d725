"""Idle intervals (``coldbench run --idle 5m,15m,30m,60m``): how they are written and read.
The sweep itself is ``coldbench.workflows.sweeps``."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600}
_DURATION = re.compile(r"^(?P<number>\d+(?:\.\d+)?)(?P<unit>[smh])$")
# Lambda keeps no environment longer than a few hours; an interval past a day measures
# nothing the shorter ones would not, and would keep a run (and its functions) for days.
LONGEST_S = 24 * 3600


def parse_interval(text: str) -> float | None:
    """'5m' -> 300.0; None for what is not a duration (a number with s, m or h)."""
    match = _DURATION.match(text.strip().lower())
    return float(match["number"]) * _UNITS[match["unit"]] if match else None


def interval_text(seconds: float) -> str:
    """300.0 -> '5m', 3600.0 -> '1h', 90.0 -> '90s', 0.2 -> '0.2s': the largest unit that
    writes it as a whole number, else seconds."""
    for unit, size in sorted(_UNITS.items(), key=lambda item: -item[1]):
        if seconds >= size and float(seconds / size).is_integer():
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
