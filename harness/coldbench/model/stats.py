"""The median, defined once: every table, profile and comparison takes it from here."""

from __future__ import annotations

from statistics import median as _median
from typing import Iterable


def median(values: Iterable[float | None]) -> float | None:
    """The median of the values that are known (None left out; the mean of the middle two
    for an even count), or None when none is. numpy's 50th percentile is the same figure."""
    known = [v for v in values if v is not None]
    return _median(known) if known else None
