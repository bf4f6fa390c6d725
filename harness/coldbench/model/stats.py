"""The median, defined once: every table, profile and comparison takes it from here."""

from __future__ import annotations

from statistics import median as _median
from typing import Iterable


def median(values: Iterable[float]) -> float | None:
    """The median of the values (the mean of the middle two for an even count), or None
    for none."""
    values = list(values)
    return _median(values) if values else None
